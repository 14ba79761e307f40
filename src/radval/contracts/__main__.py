"""``python -m radval.contracts FOLDER``: write ``FOLDER/<file>.yaml`` for every document."""

from __future__ import annotations

import sys
from pathlib import Path

from radval._provenance import atomic_write_text
from radval.contracts._base import describe
from radval.contracts._registry import DOCUMENTS


def main(argv: list[str]) -> int:
    """Write the generated data-dictionary files into the folder given (default
    ``data-dictionary``)."""
    folder = Path(argv[0] if argv else "data-dictionary")
    folder.mkdir(parents=True, exist_ok=True)
    for stem, doc in DOCUMENTS.items():
        atomic_write_text(folder / f"{stem}.yaml", describe(doc))
        print(folder / f"{stem}.yaml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
