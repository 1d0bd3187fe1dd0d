"""lptrain golden model: the single definition of every number the hardware produces (docs/spec.md)."""

from .fusion import fusion_dot, pack, precision_bits, products
from .fractrain import PFQScheduler, dfq_cost, effective_macs, training_costs
from .quantizers import bhq, pact, psq, ptq, range_quantize, sawb, sawb_alpha
from .mac_array import mac_array
from .r4fp4 import gradscale_exp, r4fp4_decode, r4fp4_encode, r4fp4_encode_flags, tpr
from .gradscale import gradscale, gradscale_stream
from .lfsr16 import lfsr16
from .fp8 import fp8_decode, fp8_encode, fp8_encode_flags
from .hybrid_mac import hybrid_mac
from .fp16_mac import fp16_mac
from .fp8_mac import fp8_mac
from .mx import (check_block, dequantize, element_decode, element_encode, mx_dequantize, mx_dot, mx_quantize,
                 nvfp4_dequantize, nvfp4_quantize)
