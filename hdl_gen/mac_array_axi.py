"""`mac_array_axi`: a `mac_array` behind AXI4-Stream in/out and AXI4-Lite control/status.

The beat format, the output row format and the register map are defined in
golden/mac_array_axi.py (one definition for the RTL, the testbench and the host driver). A Zynq
PS drives it through an AXI DMA: MM2S -> `s_axis`, `m_axis` -> S2MM, the PS's GP port ->
`s_axi`. Clock `clk`, synchronous active-high reset `rst` (in a Vivado block design:
proc_sys_reset's peripheral_reset).

    s_axis words -> deserializer (shift register of beat_words words) -> mac_array input
    mac_array output row -> serializer (row_words words, TLAST on a tile's last row) -> m_axis

The deserializer holds one beat; `s_axis_tready` is high while it is not full or while the array
takes the full beat in this cycle, so with beat_words = 1 the array runs one beat per cycle, and
otherwise one beat per beat_words cycles (the stream, not the array, is the limit: a DMA's HP
port moves 64 bits per cycle). No path from a valid to its own ready.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.mac_array import ACCW_DEFAULT, CNTW_DEFAULT
from golden.mac_array_axi import (
    ADDR_BITS, CONTROL_CLEAR, CONTROL_FLUSH, CTRL_BITS, ID, REGISTERS, beat_bits, beat_words,
    check_data_width, config_words, counter_offsets, row_words, version_word)

from . import __version__
from .mac_array import MacArray

__all__ = ["MacArrayAxi"]


class MacArrayAxi(wiring.Component):
    """`mac_array` with AXI4-Stream data ports and AXI4-Lite registers (golden/mac_array_axi.py).

    Parameters
    ----------
    rows, cols, maxb, accw, pe, cntw : the MacArray's parameters.
    data_width : int
        TDATA width of both streams, one of golden.mac_array_axi.DATA_WIDTHS.

    Ports
    -----
    s_axis_tdata/tvalid/tready/tlast, m_axis_tdata/tvalid/tready/tlast, and the AXI4-Lite slave
    s_axi_aw*/w*/b*/ar*/r* (32-bit data, ADDR_BITS address bits; responses always OKAY, unmapped
    addresses read 0).
    """

    def __init__(self, rows=4, cols=4, maxb=8, accw=ACCW_DEFAULT, pe="fusion", cntw=CNTW_DEFAULT,
                 data_width=64):
        self.array = MacArray(rows, cols, maxb, accw, pe, cntw)  # validates the array parameters
        check_data_width(data_width)
        if rows >= 1 << 16 or cols >= 1 << 16:
            raise ValueError(f"rows and cols must be < 65536 (CONFIG0 fields), got {rows}, {cols}")
        self.rows, self.cols, self.maxb, self.accw, self.pe, self.cntw = rows, cols, maxb, accw, pe, cntw
        self.data_width = data_width
        self.beat_words = beat_words(rows, cols, maxb, pe, data_width)
        self.row_words = row_words(cols, accw, data_width)
        w = data_width
        super().__init__({
            "s_axis_tdata": In(w), "s_axis_tvalid": In(1), "s_axis_tready": Out(1), "s_axis_tlast": In(1),
            "m_axis_tdata": Out(w), "m_axis_tvalid": Out(1), "m_axis_tready": In(1), "m_axis_tlast": Out(1),
            "s_axi_awaddr": In(ADDR_BITS), "s_axi_awprot": In(3), "s_axi_awvalid": In(1), "s_axi_awready": Out(1),
            "s_axi_wdata": In(32), "s_axi_wstrb": In(4), "s_axi_wvalid": In(1), "s_axi_wready": Out(1),
            "s_axi_bresp": Out(2), "s_axi_bvalid": Out(1), "s_axi_bready": In(1),
            "s_axi_araddr": In(ADDR_BITS), "s_axi_arprot": In(3), "s_axi_arvalid": In(1), "s_axi_arready": Out(1),
            "s_axi_rdata": Out(32), "s_axi_rresp": Out(2), "s_axi_rvalid": Out(1), "s_axi_rready": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.array = array = self.array
        w, n_in, n_out = self.data_width, self.beat_words, self.row_words
        # One-cycle pulses from a CONTROL write.
        clear = Signal()
        flush = Signal()

        # ---- input: stream words -> one array beat
        buf = Signal(n_in * w, reset_less=True)  # word k of the beat ends up at [k*w +: w]
        idx = Signal(range(n_in))
        full = Signal()
        frame_error = Signal()
        take = Signal()
        m.d.comb += [take.eq(full & array.in_ready),
                     self.s_axis_tready.eq(~full | take)]
        word_in = self.s_axis_tvalid & self.s_axis_tready
        record = buf[:beat_bits(self.rows, self.cols, self.maxb, self.pe)]
        lanes = record[CTRL_BITS:]
        a_bits = self.rows * self.array.lane
        m.d.comb += [
            array.in_valid.eq(full),
            array.in_pa.eq(record[0:2]), array.in_pb.eq(record[2:4]),
            array.in_sa.eq(record[4]), array.in_sb.eq(record[5]),
            array.in_first.eq(record[6]), array.in_last.eq(record[7]),
            array.in_a.eq(lanes[:a_bits]), array.in_b.eq(lanes[a_bits:]),
        ]
        with m.If(take):
            m.d.sync += full.eq(0)
        with m.If(word_in):
            m.d.sync += buf.eq(Cat(buf[w:], self.s_axis_tdata) if n_in > 1 else self.s_axis_tdata)
            with m.If(idx == n_in - 1):
                m.d.sync += [idx.eq(0), full.eq(1)]
            with m.Else():
                m.d.sync += idx.eq(idx + 1)
                # TLAST inside a beat: drop the partial beat so the next transfer starts aligned.
                with m.If(self.s_axis_tlast):
                    m.d.sync += [idx.eq(0), frame_error.eq(1)]
        with m.Elif(flush):
            m.d.sync += idx.eq(0)
        with m.If(clear):
            m.d.sync += frame_error.eq(0)

        # ---- output: one result row -> row_words stream words, TLAST on the tile's last row
        row = Cat(array.out_data, Const(0, n_out * w - len(array.out_data)))
        oidx = Signal(range(n_out))
        last_word = oidx == n_out - 1
        with m.Switch(oidx):
            for k in range(n_out):
                with m.Case(k):
                    m.d.comb += self.m_axis_tdata.eq(row[k * w:(k + 1) * w])
        m.d.comb += [self.m_axis_tvalid.eq(array.out_valid),
                     self.m_axis_tlast.eq(array.out_last & last_word),
                     array.out_ready.eq(self.m_axis_tready & last_word)]
        with m.If(self.m_axis_tvalid & self.m_axis_tready):
            m.d.sync += oidx.eq(Mux(last_word, 0, oidx + 1))

        # ---- AXI4-Lite
        m.d.comb += [self.s_axi_bresp.eq(0), self.s_axi_rresp.eq(0)]
        write = Signal()
        m.d.comb += [write.eq(self.s_axi_awvalid & self.s_axi_wvalid & ~self.s_axi_bvalid),
                     self.s_axi_awready.eq(write), self.s_axi_wready.eq(write)]
        with m.If(write):
            m.d.sync += self.s_axi_bvalid.eq(1)
        with m.Elif(self.s_axi_bready):
            m.d.sync += self.s_axi_bvalid.eq(0)
        control = write & (self.s_axi_awaddr[2:] == REGISTERS["control"] >> 2) & self.s_axi_wstrb[0]
        m.d.sync += [clear.eq(control & (self.s_axi_wdata & CONTROL_CLEAR).any()),
                     flush.eq(control & (self.s_axi_wdata & CONTROL_FLUSH).any())]
        m.d.comb += array.clear.eq(clear)

        status = Cat(array.error, frame_error, idx != 0, array.out_valid)
        words = dict(zip(("config0", "config1", "config2"),
                         config_words(self.rows, self.cols, self.maxb, self.accw, self.cntw, self.pe, w)))
        constant = {"id": ID, "version": version_word(__version__), **words}
        # Read mux: the addressed register's value, and the counter upper half a LO read latches.
        value = Signal(32)
        hi = Signal(32)
        hi_next = Signal(32)
        with m.Switch(self.s_axi_araddr[2:]):
            for name, word in constant.items():
                with m.Case(REGISTERS[name] >> 2):
                    m.d.comb += [value.eq(word), hi_next.eq(hi)]
            with m.Case(REGISTERS["status"] >> 2):
                m.d.comb += [value.eq(status), hi_next.eq(hi)]
            for name, offset in counter_offsets(self.maxb, self.pe).items():
                count = getattr(array, name)
                with m.Case(offset >> 2):
                    m.d.comb += [value.eq(count[:32]), hi_next.eq(count[32:])]
                with m.Case((offset >> 2) + 1):
                    m.d.comb += [value.eq(hi), hi_next.eq(hi)]
            with m.Default():
                m.d.comb += [value.eq(0), hi_next.eq(hi)]
        read = self.s_axi_arvalid & ~self.s_axi_rvalid
        m.d.comb += self.s_axi_arready.eq(~self.s_axi_rvalid)
        with m.If(read):
            m.d.sync += [self.s_axi_rvalid.eq(1), self.s_axi_rdata.eq(value), hi.eq(hi_next)]
        with m.Elif(self.s_axi_rready):
            m.d.sync += self.s_axi_rvalid.eq(0)
        return m
