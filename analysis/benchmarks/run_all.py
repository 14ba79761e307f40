"""Run every benchmark in this folder and print one table of ratios.

Each ``bench_*.py`` exposes ``main() -> list[dict]`` with rows
``{benchmark, radval_s, reference_s, ratio, target, ok}``; the reference tool
runs in the same process, so the ratios are comparable across machines.
Usage: ``.venv/bin/python analysis/benchmarks/run_all.py [name ...]``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _load(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None  # noqa: S101 - script, not library
    mod = importlib.util.module_from_spec(spec)
    # Registered under its own name so that worker processes can unpickle its functions.
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str]) -> int:
    rows: list[dict[str, object]] = []
    for path in sorted(HERE.glob("bench_*.py")):
        if argv and not any(a in path.stem for a in argv):
            continue
        print(f"== {path.stem}", flush=True)
        rows.extend(_load(path).main())
    print()
    print(f"{'benchmark':58s} {'radval_s':>10s} {'ref_s':>10s} {'ratio':>9s}  target       ok")
    for r in rows:
        print(f"{str(r['benchmark']):58s} {float(r['radval_s']):10.4f} "  # type: ignore[arg-type]
              f"{float(r['reference_s']):10.4f} {float(r['ratio']):9.3f}  "  # type: ignore[arg-type]
              f"{str(r['target']):12s} {r['ok']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
