// Fast HIL driver: a Verilator model of mac_array / mac_array_fixed8 / hybrid_mac / fp8_mac fed
// whole GEMMs.
//
// Built by cosim/sim.py, which writes hil_config.h (unit, port word counts, counter names).
// Protocol on stdin/stdout, little-endian uint32 words, one job after another until EOF:
//
// mac_array job:  header [n_beats, expected_rows, gap, backpressure, seed_lo, seed_hi]
//                 then n_beats x WA words (in_a), n_beats x WB words (in_b), n_beats ctrl words
//                 (pa | pb<<2 | sa<<4 | sb<<5 | first<<6 | last<<7).
//   reply:        [rows, cycles, first_in, last_out, error, extra_rows, stall_cycles_tb]
//                 N_COUNTERS x 2 words (uint64 counters), rows x (WO words of out_data, then
//                 row | last<<16).
// MAC job:        header [n_beats, expected_results, gap, scale_exp & 0x3f, seed_lo, seed_hi]
//                 then n_beats x WX words (x), n_beats x WG words (g), n_beats ctrl words
//                 (sx | phase<<1 | last<<2 | sa<<8 | sb<<16 | shift<<24; sx, phase, scale_exp:
//                 hybrid_mac only; sa, sb: mx_dot only; shift: fp8_mac only).
//   reply:        [results, cycles, extra_results, stall_cycles_tb] then `results` words:
//                 out_data of every cycle with out_valid, in order.
//
// gap / backpressure: the chance (in 1/65536) of an idle input cycle before a beat / of out_ready
// low in a cycle (mac_array only: a MAC's results have no backpressure), drawn from a seeded
// xorshift64* generator (reproducible). Inputs are set with the clock low, combinational outputs
// settle, the handshakes of the coming rising edge are sampled, then the edge: two evaluations
// per cycle. cycles: from the first input handshake to the last output, inclusive.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "hil_config.h"
#include "verilated.h"
#include "Vtop.h"

namespace {

struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed ? seed : 0x9E3779B97F4A7C15ull) {}
    uint32_t next16() {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        return static_cast<uint32_t>((s * 0x2545F4914F6CDD1Dull) >> 48);
    }
    bool chance(uint32_t p) { return p && next16() < p; }
};

template <typename T> void set_words(T& sig, const uint32_t* w, int nw) {
    uint64_t v = w[0];
    if (nw > 1) v |= static_cast<uint64_t>(w[1]) << 32;
    sig = static_cast<T>(v);
}
template <std::size_t N> void set_words(VlWide<N>& sig, const uint32_t* w, int) {
    for (std::size_t k = 0; k < N; ++k) sig[k] = w[k];
}
template <typename T> void get_words(const T& sig, uint32_t* w, int nw) {
    uint64_t v = sig;
    w[0] = static_cast<uint32_t>(v);
    if (nw > 1) w[1] = static_cast<uint32_t>(v >> 32);
}
template <std::size_t N> void get_words(const VlWide<N>& sig, uint32_t* w, int) {
    for (std::size_t k = 0; k < N; ++k) w[k] = sig[k];
}

bool read_words(uint32_t* dst, std::size_t n) {
    return std::fread(dst, 4, n, stdin) == n;
}
void write_words(const uint32_t* src, std::size_t n) { std::fwrite(src, 4, n, stdout); }

void edge(Vtop* top) {
    top->clk = 1;
    top->eval();
    top->clk = 0;
}

void reset(Vtop* top) {
    top->clk = 0;
    top->rst = 1;
    top->eval();
    edge(top);
    top->eval();
    edge(top);
    top->rst = 0;
    top->eval();
}

#if HIL_UNIT_MAC_ARRAY
void run_mac_array(Vtop* top, const uint32_t* hdr) {
    const uint32_t n = hdr[0], expected = hdr[1], gap = hdr[2], bp = hdr[3];
    Rng rng(hdr[4] | static_cast<uint64_t>(hdr[5]) << 32);
    std::vector<uint32_t> a(static_cast<std::size_t>(n) * WA), b(static_cast<std::size_t>(n) * WB), ctrl(n);
    if (!read_words(a.data(), a.size()) || !read_words(b.data(), b.size()) || !read_words(ctrl.data(), n)) {
        std::fprintf(stderr, "hil_driver: truncated job\n");
        std::exit(2);
    }
    // A new counter window and a clean error flag for this GEMM.
    top->in_valid = 0;
    top->out_ready = 0;
    top->clear = 1;
    top->eval();
    edge(top);
    top->clear = 0;

    std::vector<uint32_t> rows;
    rows.reserve(static_cast<std::size_t>(expected) * (WO + 1));
    uint32_t i = 0, got = 0, cycle = 0, first_in = 0, last_out = 0, stalls = 0;
    bool presented = false;
    const uint64_t limit = 64ull * (n + expected) + 1000;
    uint32_t out_words[WO];
    while (i < n || got < expected) {
        if (cycle > limit) {
            std::fprintf(stderr, "hil_driver: timeout, %u/%u beats in, %u/%u rows out\n", i, n, got, expected);
            std::exit(3);
        }
        // Input side: a presented beat stays until accepted (valid is never retracted).
        const bool present = i < n && (presented || !rng.chance(gap));
        top->in_valid = present;
        if (present && !presented) {
            set_words(top->in_a, &a[static_cast<std::size_t>(i) * WA], WA);
            set_words(top->in_b, &b[static_cast<std::size_t>(i) * WB], WB);
            const uint32_t c = ctrl[i];
            top->in_pa = c & 3;
            top->in_pb = (c >> 2) & 3;
            top->in_sa = (c >> 4) & 1;
            top->in_sb = (c >> 5) & 1;
            top->in_first = (c >> 6) & 1;
            top->in_last = (c >> 7) & 1;
            presented = true;
        }
        top->out_ready = !rng.chance(bp);
        top->eval();
        if (top->out_valid && top->out_ready) {
            get_words(top->out_data, out_words, WO);
            rows.insert(rows.end(), out_words, out_words + WO);
            rows.push_back(static_cast<uint32_t>(top->out_row) | static_cast<uint32_t>(top->out_last) << 16);
            ++got;
            last_out = cycle;
        }
        if (present) {
            if (top->in_ready) {
                if (i == 0) first_in = cycle;
                ++i;
                presented = false;
            } else {
                ++stalls;
            }
        }
        edge(top);
        ++cycle;
    }
    // Nothing more may come out.
    top->in_valid = 0;
    top->out_ready = 1;
    uint32_t extra = 0;
    for (int k = 0; k < ROWS + 4; ++k) {
        top->eval();
        if (top->out_valid) ++extra;
        edge(top);
    }
    top->out_ready = 0;
    top->eval();
    const uint32_t reply[7] = {got, last_out - first_in + 1, first_in, last_out,
                               static_cast<uint32_t>(top->error), extra, stalls};
    write_words(reply, 7);
    uint64_t counters[] = {
#define X(name) static_cast<uint64_t>(top->name),
        HIL_COUNTERS
#undef X
    };
    for (uint64_t v : counters) {
        const uint32_t w[2] = {static_cast<uint32_t>(v), static_cast<uint32_t>(v >> 32)};
        write_words(w, 2);
    }
    write_words(rows.data(), rows.size());
}
#endif

#if HIL_UNIT_HYBRID_MAC || HIL_UNIT_FLOAT_MAC || HIL_UNIT_MX_DOT
// mx_dot's element ports are a, b (the jobs' x, g); its scale codes ride in ctrl bits 8..23.
#if HIL_UNIT_MX_DOT
#define PORT_X a
#define PORT_G b
#else
#define PORT_X x
#define PORT_G g
#endif
void run_mac(Vtop* top, const uint32_t* hdr) {
    const uint32_t n = hdr[0], expected = hdr[1], gap = hdr[2];
    Rng rng(hdr[4] | static_cast<uint64_t>(hdr[5]) << 32);
    std::vector<uint32_t> x(static_cast<std::size_t>(n) * WX), g(static_cast<std::size_t>(n) * WG), ctrl(n);
    if (!read_words(x.data(), x.size()) || !read_words(g.data(), g.size()) || !read_words(ctrl.data(), n)) {
        std::fprintf(stderr, "hil_driver: truncated job\n");
        std::exit(2);
    }
#if HIL_UNIT_HYBRID_MAC
    top->scale_exp = hdr[3] & 0x3f;
#endif
    top->in_valid = 0;
    std::vector<uint32_t> results;
    results.reserve(expected);
    uint32_t i = 0, cycle = 0, first_in = 0, last_out = 0, stalls = 0;
    bool presented = false;
    const uint64_t limit = 64ull * (n + expected) + 1000;
    while (i < n || results.size() < expected) {
        if (cycle > limit) {
            std::fprintf(stderr, "hil_driver: timeout, %u/%u beats in, %zu/%u results out\n", i, n, results.size(),
                         expected);
            std::exit(3);
        }
        // A presented beat stays until taken (valid is never retracted).
        const bool present = i < n && (presented || !rng.chance(gap));
        top->in_valid = present;
        if (present && !presented) {
            set_words(top->PORT_X, &x[static_cast<std::size_t>(i) * WX], WX);
            set_words(top->PORT_G, &g[static_cast<std::size_t>(i) * WG], WG);
            const uint32_t c = ctrl[i];
#if HIL_UNIT_HYBRID_MAC
            top->sx = c & 1;
            top->phase = (c >> 1) & 1;
#endif
#if HIL_UNIT_MX_DOT
            top->sa = (c >> 8) & 0xff;
            top->sb = (c >> 16) & 0xff;
#endif
#if HIL_UNIT_FLOAT_MAC
            top->shift = (c >> 24) & ((1u << SHIFT_BITS) - 1);
#endif
            top->in_last = (c >> 2) & 1;
            presented = true;
        }
        top->eval();
        if (top->out_valid) {
            results.push_back(top->out_data);
            last_out = cycle;
        }
        if (present) {
            if (top->in_ready) {
                if (i == 0) first_in = cycle;
                ++i;
                presented = false;
            } else {
                ++stalls;
            }
        }
        edge(top);
        ++cycle;
    }
    // Nothing more may come out.
    top->in_valid = 0;
    uint32_t extra = 0;
    for (int k = 0; k < 16; ++k) {
        top->eval();
        if (top->out_valid) ++extra;
        edge(top);
    }
    top->eval();
    const uint32_t reply[4] = {static_cast<uint32_t>(results.size()), last_out - first_in + 1, extra, stalls};
    write_words(reply, 4);
    write_words(results.data(), results.size());
}
#endif

}  // namespace

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    Vtop* top = new Vtop;
    reset(top);
    uint32_t hdr[6];
    while (read_words(hdr, 6)) {
#if HIL_UNIT_MAC_ARRAY
        run_mac_array(top, hdr);
#else
        run_mac(top, hdr);
#endif
        std::fflush(stdout);
    }
    top->final();
    delete top;
    return 0;
}
