"""`radval validate`: not implemented yet."""

from __future__ import annotations

import argparse
from typing import Any

from radval.exceptions import RadvalError

HELP = "(validate: not implemented yet)"
EXAMPLE = "radval validate --help"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this subcommand's arguments."""


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the subcommand."""
    raise RadvalError("radval validate is not implemented yet")
