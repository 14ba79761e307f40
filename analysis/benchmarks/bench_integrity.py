"""Benchmark: the completeness check of an image file (radval.io._integrity) vs reading it.

``read_image`` decompresses a ``.nii.gz`` to its end before SimpleITK reads it (a truncated
file would otherwise be zero-filled); the decompressed bytes go to an uncompressed copy that
SimpleITK reads instead of inflating the file again (``radval.io._integrity.inflate_nifti``).
This measures what the check costs against the read itself, in the same process, on a
full-size CT: 512 x 512 x 300 int16 with CT-like content (air, body, noise; compressed by gzip
about as well as a real scan), and a float32 MR-like volume of the same size (whose voxels are
also scanned for NaN and infinities).

Rows (``{benchmark, radval_s, reference_s, ratio, target, ok}``):

- ``integrity/verify_vs_read_ct_int16``: ``verify_image_file`` vs ``SimpleITK.ReadImage``;
  target ratio <= 1.0 (the check costs at most one more read of the file).
- ``integrity/verify_vs_read_mr_float32``: the same for float32 (non-finite scan included).
- ``integrity/read_image_vs_sitk``: ``radval.io.images.read_image`` (check with the
  uncompressed copy + read of the copy) vs ``SimpleITK.ReadImage``; target ratio <= 2.0.

Best of ``REPEATS`` rounds that time SimpleITK and radval one after the other.
Usage: ``.venv/bin/python analysis/benchmarks/bench_integrity.py``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

REPEATS = 3
SHAPE = (300, 512, 512)


def _best(*fns: Callable[[], Any]) -> list[float]:
    """Best time of each function over ``REPEATS`` rounds that run them one after the other
    (a load change on a shared machine then falls on every side of a ratio)."""
    best = [float("inf")] * len(fns)
    for _ in range(REPEATS):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def _volumes() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261201)
    z, y, x = np.ogrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]
    body = ((y - 256) / 200.0) ** 2 + ((x - 256) / 170.0) ** 2 < 1.0
    ct = np.full(SHAPE, -1000, dtype=np.int16)
    ct[np.broadcast_to(body, SHAPE)] = 40
    ct += rng.normal(0, 12, SHAPE).astype(np.int16)
    mr = np.where(np.broadcast_to(body, SHAPE), 600.0, 5.0).astype(np.float32)
    mr += rng.normal(0, 20, SHAPE).astype(np.float32)
    return {"ct_int16": ct, "mr_float32": mr}


def main() -> list[dict[str, object]]:
    import SimpleITK as sitk

    from radval.io._integrity import verify_image_file
    from radval.io.images import read_image

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, arr in _volumes().items():
            path = Path(tmp) / f"{name}.nii.gz"
            sitk.WriteImage(sitk.GetImageFromArray(arr), str(path))
            timed: list[Callable[[], Any]] = [partial(sitk.ReadImage, str(path)),
                                              partial(verify_image_file, path)]
            if name == "ct_int16":
                timed.append(partial(read_image, path))
            t_read, t_verify, *t_full = _best(*timed)
            rows.append({"benchmark": f"integrity/verify_vs_read_{name}", "radval_s": t_verify,
                         "reference_s": t_read, "ratio": t_verify / t_read,
                         "target": "<= 1.0", "ok": t_verify / t_read <= 1.0,
                         "value": path.stat().st_size / 2**20, "unit": "MiB on disk"})
            if name == "ct_int16":
                rows.append({"benchmark": "integrity/read_image_vs_sitk", "radval_s": t_full[0],
                             "reference_s": t_read, "ratio": t_full[0] / t_read,
                             "target": "<= 2.0", "ok": t_full[0] / t_read <= 2.0})
    for r in rows:
        print(f"{r['benchmark']:45s} {float(r['radval_s']):8.3f} s vs "  # type: ignore[arg-type]
              f"{float(r['reference_s']):8.3f} s  ratio {float(r['ratio']):.2f}")  # type: ignore[arg-type]
    return rows


if __name__ == "__main__":
    main()
