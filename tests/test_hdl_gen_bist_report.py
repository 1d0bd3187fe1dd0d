# amaranth: UnusedElaboratable=no
"""BistReport's parameters: bad values are a ValueError naming the parameter."""

import pytest

from hdl_gen.bist_report import BistReport


@pytest.mark.parametrize("kwargs, name", [(dict(rows=0, cols=2, divisor=1), "rows"),
                                          (dict(rows=2, cols=2.5, divisor=1), "cols"),
                                          (dict(rows=2, cols=2, divisor=0), "divisor")])
def test_bad_parameter_names_itself(kwargs, name):
    with pytest.raises(ValueError, match=name):
        BistReport(**kwargs)
