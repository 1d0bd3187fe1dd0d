# amaranth: UnusedElaboratable=no
# (components are built here to read their signatures; not elaborating them is intended)
"""hdl_gen.r4fp4: the docs/spec.md ports of tpr_quantizer and r4fp4_to_fp16 (the units have no
generator parameters; their scale_exp port holds the whole GradScale range)."""

from hdl_gen.r4fp4 import SCALE_BITS, R4FP4ToFP16, TPRQuantizer
from golden.r4fp4 import SCALE_EXP_MAX, SCALE_EXP_MIN
from verif.harness import port_list


def test_tpr_quantizer_ports():
    assert port_list(TPRQuantizer()) == [
        ("x", 16, True), ("scale_exp", 6, True), ("stochastic", 1, True), ("rand", 16, True),
        ("even", 4, False), ("odd", 4, False), ("invalid", 1, False), ("overflow", 1, False),
        ("underflow", 1, False)]
    assert TPRQuantizer().scale_exp.shape().signed


def test_r4fp4_to_fp16_ports():
    assert port_list(R4FP4ToFP16()) == [
        ("code", 4, True), ("phase", 1, True), ("scale_exp", 6, True), ("y", 16, False)]
    assert R4FP4ToFP16().scale_exp.shape().signed


def test_scale_port_covers_gradscale_range():
    lo, hi = -(1 << (SCALE_BITS - 1)), (1 << (SCALE_BITS - 1)) - 1
    assert lo <= SCALE_EXP_MIN and SCALE_EXP_MAX <= hi
    assert not (lo // 2 <= SCALE_EXP_MIN and SCALE_EXP_MAX <= hi // 2)  # one bit fewer would not do
