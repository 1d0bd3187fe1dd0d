"""Command-line conventions (docs/spec.md, "Errors"): a bad argument is answered in one line
naming it, with exit status 2; argparse's default prints the whole usage first."""

import argparse


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive(kind=int):
    """An argparse `type` accepting `kind` values > 0."""
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            v = None
        if v is None or not v > 0:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__} > 0, got {text!r}")
        return v
    return parse


def non_negative_int(text):
    """An argparse `type` accepting integers >= 0."""
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v
