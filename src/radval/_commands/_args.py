"""Argument types of the command line: every number is checked by argparse.

A value out of range is a usage error (exit code 2) naming the option
(``argument --bootstrap: must be an integer >= 0, got -5``), before any work and before a
library function could report it under its own parameter name.  Every numeric option of
every subcommand uses one of these types (a test enforces it).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["MODALITY_CHOICES", "NumberType", "float_range", "int_range", "jobs", "seed"]

#: Values of --modality.
MODALITY_CHOICES = ("CT", "MR", "PET")


class NumberType:
    """An argparse ``type=``: parse a number and check its range (inclusive bounds)."""

    def __init__(self, kind: type, low: float | None, high: float | None) -> None:
        self.kind = kind
        self.low = low
        self.high = high

    @property
    def description(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        low, high = (self._show(v) for v in (self.low, self.high))
        if low is not None and high is not None:
            return f"{noun} in [{low}, {high}]"
        if low is not None:
            return f"{noun} >= {low}"
        if high is not None:
            return f"{noun} <= {high}"
        return noun

    def _show(self, v: float | None) -> str | None:
        if v is None:
            return None
        return str(int(v)) if self.kind is int else f"{v:g}"

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {self.description}, got {text!r}") \
                from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be {self.description}, got {text!r}")
        if (self.low is not None and value < self.low) or \
                (self.high is not None and value > self.high):
            raise argparse.ArgumentTypeError(f"must be {self.description}, got {text!r}")
        return value

    def __repr__(self) -> str:  # argparse names the type in some messages
        return self.description


def int_range(low: int | None = None, high: int | None = None) -> NumberType:
    """An integer within ``[low, high]`` (either bound optional)."""
    return NumberType(int, low, high)


def float_range(low: float | None = None, high: float | None = None) -> NumberType:
    """A finite number within ``[low, high]``."""
    return NumberType(float, low, high)


#: --jobs: worker processes.
jobs: Callable[[str], int | float] = int_range(1)
#: --seed: numpy seeds are non-negative integers.
seed: Callable[[str], int | float] = int_range(0)
