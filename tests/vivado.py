"""A stand-in Vivado for the board-flow tests: records its arguments and touches the outputs."""


def fake_vivado_settings(tmp_path, outputs):
    """A settings script for AMARANTH_ENV_VIVADO naming a fake `vivado` that writes its
    arguments to `vivado_args` and creates `outputs` in its working directory."""
    fake = tmp_path / "vivado"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > vivado_args\ntouch {' '.join(outputs)}\n")
    fake.chmod(0o755)
    settings = tmp_path / "settings64.sh"
    settings.write_text(f"VIVADO={fake}\n")
    return settings
