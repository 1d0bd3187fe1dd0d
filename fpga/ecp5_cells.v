// Simulation models of the cells in nextpnr-ecp5's routed netlist (`--write`), for running the
// placed-and-routed design in Icarus (fpga.ecp5.check_routed). Yosys's Lattice library models
// TRELLIS_FF and TRELLIS_IO but leaves DP16KD a blackbox and its TRELLIS_COMB drives CCU2's FCO
// into a local wire, so the routed cells are modelled here, from nextpnr's packer (ecp5/pack.cc,
// cells.cc) and bitstream writer (ecp5/bitstream.cc):
// - an unconnected LUT or carry input is tied high in the fabric (bitstream.cc write_comb: unused
//   A-D get "1"); an unconnected LSR is low and an unconnected CE high (pack.cc
//   set_net_constant disconnects exactly those);
// - TRELLIS_COMB: F = LUT4(INITVAL) in LOGIC mode, one half of a CCU2C in CCU2 mode; OFX is the
//   slice's PFUMX (M ? F1 : F) when F1 is connected, its L6MUX21 (M ? FXB : FXA) otherwise;
// - DP16KD: fpga.ecp5.simulation_netlist folds the pin multiplexers (constant ties, chip
//   selects) and the 64 INITVAL_xx words into ports and one INIT vector first; what this model
//   does not cover (writes, output registers, widths other than 9/18/36) stops the simulation.
// The global set/reset (GSR cell) reaches every GSR-enabled flip-flop through ecp5_glob, which the
// testbench instantiates.
`timescale 1ns/1ps
`default_nettype none

module ecp5_glob;
    reg gsr_n = 1'b1;
endmodule

module GSR (input CLK, input GSR);
    parameter MODE = "ACTIVE_LOW";
    parameter SYNCMODE = "SYNC";
    initial if (MODE != "ACTIVE_LOW" || SYNCMODE != "SYNC") $fatal(1, "GSR: only MODE=ACTIVE_LOW SYNCMODE=SYNC");
    always @(posedge CLK) ecp5_glob.gsr_n <= (GSR === 1'bz) ? 1'b1 : GSR;
endmodule

module DCCA (input CLKI, input CE, output CLKO);
    assign CLKO = CLKI & ((CE === 1'bz) ? 1'b1 : CE);
endmodule

module TRELLIS_IO (inout B, input I, input T, output O);
    parameter DIR = "INPUT";
    wire t = (T === 1'bz) ? 1'b0 : T;  // an unconnected tristate is tied low (bitstream.cc)
    assign O = B;
    assign B = (DIR == "INPUT" || t) ? 1'bz : I;
endmodule

module TRELLIS_COMB (
    input A, B, C, D, M, FCI, F1, FXA, FXB,
    input WD, WAD0, WAD1, WAD2, WAD3, WRE, WCK,
    output F, FCO, OFX
);
    parameter MODE = "LOGIC";
    parameter [15:0] INITVAL = 16'h0;
    parameter CCU2_INJECT1 = "NO";
    parameter WREMUX = "WRE";
    initial if (MODE != "LOGIC" && MODE != "CCU2") $fatal(1, "TRELLIS_COMB: MODE %0s is not modelled", MODE);

    wire a = (A === 1'bz) ? 1'b1 : A, b = (B === 1'bz) ? 1'b1 : B;
    wire c = (C === 1'bz) ? 1'b1 : C, d = (D === 1'bz) ? 1'b1 : D;
    wire lut4 = INITVAL[{d, c, b, a}];
    wire lut2 = INITVAL[{b, a}];  // the carry's generate term: the LUT's low half on A, B
    wire inject = MODE == "CCU2" && CCU2_INJECT1 == "YES";
    wire cin = (FCI === 1'bz) ? 1'b0 : FCI;
    assign F = (MODE == "CCU2") ? lut4 ^ (inject ? 1'b0 : cin) : lut4;
    assign FCO = (lut4 & cin) | (~lut4 & (inject ? 1'b0 : lut2));
    assign OFX = (F1 !== 1'bz) ? (M ? F1 : F) : (M ? FXB : FXA);
endmodule

module TRELLIS_FF (input CLK, LSR, CE, DI, M, output reg Q);
    parameter GSR = "ENABLED";
    parameter CEMUX = "1";
    parameter CLKMUX = "CLK";
    parameter LSRMUX = "LSR";
    parameter SRMODE = "LSR_OVER_CE";
    parameter REGSET = "RESET";
    parameter LSRMODE = "LSR";
    parameter SD = "0";  // data from DI (the slice's LUT, "1") or from M ("0")
    initial if (LSRMODE != "LSR") $fatal(1, "TRELLIS_FF: LSRMODE %0s is not modelled", LSRMODE);

    wire srval = REGSET == "SET";
    wire ce_in = (CE === 1'bz) ? 1'b1 : CE;
    wire ce = (CEMUX == "1") ? 1'b1 : (CEMUX == "0") ? 1'b0 : (CEMUX == "INV") ? ~ce_in : ce_in;
    wire lsr = (LSR === 1'bz) ? 1'b0 : (LSRMUX == "INV") ? ~LSR : LSR;
    wire clk = (CLKMUX == "INV") ? ~CLK : CLK;
    wire d = (SD == "1") ? DI : M;
    wire gsr = GSR == "ENABLED" && !ecp5_glob.gsr_n;
    initial Q = srval;
    generate
        if (SRMODE == "ASYNC") begin : async_reset
            always @(posedge clk or posedge lsr)
                if (lsr || gsr) Q <= srval;
                else if (ce) Q <= d;
        end else begin : sync_reset
            always @(posedge clk)
                if (lsr || gsr) Q <= srval;
                else if (ce) Q <= d;
        end
    endgenerate
endmodule

// One read port of a DP16KD (1024 x 18 bits): width 9 or 18 on its own port, width 36 with
// port B addressing and both ports' data pins carrying the word ({DOB, DOA}).
module ecp5_ebr_read #(parameter WIDTH = 18, parameter RESETMODE = "SYNC", parameter [20479:0] init = 0) (
    input clk, ce, rst, input [13:0] ad, output reg [35:0] q
);
    // entry e of the 1024 x 18 array sits at INIT[20 * e +: 18] (INITVAL_xx: 16 entries in 20-bit slots)
    reg [17:0] mem [0:1023];
    integer e;
    initial begin
        q = 36'b0;
        if (WIDTH != 9 && WIDTH != 18 && WIDTH != 36) $fatal(1, "DP16KD: DATA_WIDTH %0d is not modelled", WIDTH);
        for (e = 0; e < 1024; e = e + 1) mem[e] = init[20 * e +: 18];
    end
    wire [17:0] lo = mem[{ad[13:5], 1'b0}], hi = mem[{ad[13:5], 1'b1}], one = mem[ad[13:4]];
    wire [35:0] word = (WIDTH == 36) ? {hi, lo} : (WIDTH == 18) ? {18'b0, one}
                     : {27'b0, ad[3] ? one[17:9] : one[8:0]};
    generate
        if (RESETMODE == "ASYNC") begin : async_reset
            always @(posedge clk or posedge rst)
                if (rst) q <= 36'b0; else if (ce) q <= word;
        end else begin : sync_reset
            always @(posedge clk)
                if (rst) q <= 36'b0; else if (ce) q <= word;
        end
    endgenerate
endmodule

module DP16KD (
    input ADA0, ADA1, ADA2, ADA3, ADA4, ADA5, ADA6, ADA7, ADA8, ADA9, ADA10, ADA11, ADA12, ADA13,
    input ADB0, ADB1, ADB2, ADB3, ADB4, ADB5, ADB6, ADB7, ADB8, ADB9, ADB10, ADB11, ADB12, ADB13,
    input CLKA, CEA, RSTA, CLKB, CEB, RSTB,
    output DOA0, DOA1, DOA2, DOA3, DOA4, DOA5, DOA6, DOA7, DOA8, DOA9, DOA10, DOA11, DOA12, DOA13, DOA14, DOA15, DOA16, DOA17,
    output DOB0, DOB1, DOB2, DOB3, DOB4, DOB5, DOB6, DOB7, DOB8, DOB9, DOB10, DOB11, DOB12, DOB13, DOB14, DOB15, DOB16, DOB17
);
    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter RESETMODE = "SYNC";
    parameter [20479:0] INIT = 20480'b0;

    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
    wire [35:0] qa, qb;
    // Width 36 is pseudo dual port: port B reads the 36-bit word, port A would write it.
    ecp5_ebr_read #(.WIDTH(DATA_WIDTH_A == 36 ? 18 : DATA_WIDTH_A), .RESETMODE(RESETMODE), .init(INIT))
        port_a (.clk(CLKA), .ce(CEA), .rst(RSTA), .ad(ada), .q(qa));
    ecp5_ebr_read #(.WIDTH(DATA_WIDTH_B), .RESETMODE(RESETMODE), .init(INIT))
        port_b (.clk(CLKB), .ce(CEB), .rst(RSTB), .ad(adb), .q(qb));
    wire [17:0] doa = (DATA_WIDTH_B == 36) ? qb[17:0] : qa[17:0];
    wire [17:0] dob = (DATA_WIDTH_B == 36) ? qb[35:18] : qb[17:0];
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule

`default_nettype wire
