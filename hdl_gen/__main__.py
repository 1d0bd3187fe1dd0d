"""`python -m hdl_gen UNIT [--param value ...] [-o DIR] [--name MODULE]`: any configuration of any unit.

Units are hdl_gen.rtl.DEFAULTS; each unit's options are its generator's constructor parameters
(hdl_gen.rtl.generator_parameters), defaulting to the committed configuration in rtl/. Values are
converted by the type of that default (int, bool, str; `none` for None) and validated by the
generator itself: a bad value is answered with the generator's ValueError, which names the
parameter and its allowed values, in one line, exit status 2.
"""

import argparse
import pathlib
import sys

from .rtl import DEFAULTS, generate, generator_parameters

RESERVED = ("out", "name", "help")  # CLI options that are not generator parameters


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        raise _Usage(message)


class _Usage(Exception):
    pass


def _convert(raw, default):
    """`raw` as the type of `default`; unconvertible text is passed on for the generator to reject."""
    text = raw.strip()
    if text.lower() == "none":
        return None
    booleans = {"true": True, "1": True, "false": False, "0": False}
    if isinstance(default, bool):
        # Generators take any truthy value as True: a typo must not switch a feature on.
        if text.lower() not in booleans:
            raise argparse.ArgumentTypeError(f"must be true or false (or 1 / 0), got {raw!r}")
        return booleans[text.lower()]
    if text.lower() in ("true", "false"):
        return booleans[text.lower()]
    if isinstance(default, int) or default is None:
        try:
            return int(text, 0)
        except ValueError:
            return raw
    return raw


def _describe(value):
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _usage_all():
    lines = ["usage: python -m hdl_gen UNIT [--PARAM VALUE ...] [-o DIR] [--name MODULE]", "",
             "Generate one configuration of an lptrain unit as Verilog (DIR/MODULE.v; MODULE defaults",
             "to UNIT). `python -m hdl_gen UNIT --help` describes one unit. Units and parameters",
             "(defaults: the configuration in rtl/):", ""]
    for name in DEFAULTS:
        cls, params = generator_parameters(name)
        opts = " ".join(f"--{k.replace('_', '-')} {_describe(v)}" for k, v in params.items())
        lines.append(f"  {name:<18} {opts or '(no parameters)'}")
    return "\n".join(lines)


def _unit_parser(name):
    cls, params = generator_parameters(name)
    doc = (cls.__doc__ or "").strip().splitlines()
    parser = _OneLineParser(prog=f"python -m hdl_gen {name}",
                            description=f"{cls.__qualname__}: {doc[0] if doc else ''} "
                                        f"Parameters are validated by the generator (see its docstring).")
    for key, default in params.items():
        flags = {f"--{key.replace('_', '-')}", f"--{key}"}
        parser.add_argument(*sorted(flags), dest=key, metavar="VALUE", default=default,
                            type=lambda raw, d=default: _convert(raw, d),
                            help=f"default: {_describe(default)}")
    parser.add_argument("-o", "--out", type=pathlib.Path, default=pathlib.Path("."),
                        help="output directory (default: .)")
    parser.add_argument("--name", help=f"Verilog module name (default: {name})")
    return parser, params


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage_all())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    try:
        if name not in DEFAULTS:
            raise _Usage(f"unit must be one of {', '.join(DEFAULTS)}, got {name!r}")
        parser, params = _unit_parser(name)
        args, unknown = parser.parse_known_args(rest)
        if unknown:
            options = " ".join(f"--{k.replace('_', '-')}" for k in params) or "none"
            raise _Usage(f"unknown parameter {unknown[0]!r} of {name}; parameters: {options} "
                         f"(and -o DIR, --name MODULE)")
        overrides = {k: getattr(args, k) for k in params if getattr(args, k) != params[k]}
        module = args.name or name
        text = generate(name, module=module, **overrides)
    except (_Usage, ValueError, TypeError) as err:
        print(f"python -m hdl_gen: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{module}.v"
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
