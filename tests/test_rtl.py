"""rtl/ is exactly what the generators produce, holds nothing else, and is lint-clean."""

import pytest

from hdl_gen.rtl import DEFAULTS, RTL_DIR, generate
from verif.lint import lint


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_rtl_is_fresh(name):
    path = RTL_DIR / f"{name}.v"
    assert path.exists(), f"{path} missing: run `make rtl`"
    assert path.read_text() == generate(name), f"{path} is stale: run `make rtl`"


def test_rtl_has_only_generated_files():
    assert sorted(p.stem for p in RTL_DIR.glob("*.v")) == sorted(DEFAULTS)


@pytest.mark.parametrize("name", list(DEFAULTS))
def test_lint_clean(name):
    ok, out = lint(RTL_DIR / f"{name}.v")
    assert ok, out
