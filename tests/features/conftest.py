"""Synthetic CT cases for the feature tests (tiny volumes, seeded)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("radiomics")
pytest.importorskip("SimpleITK")

#: A light PyRadiomics parameter file: original image, three classes, fast on tiny volumes.
LIGHT_PARAMS = """\
imageType:
  Original: {}
featureClass:
  shape:
  firstorder:
  glcm: [Contrast, Idm, JointEntropy]
setting:
  binWidth: 25
  label: 1
  voxelArrayShift: 1000
"""


def write_case(folder: Path, name: str, *, seed: int, n: int = 24, radius_mm: float = 6.0,
               spacing: tuple[float, float, float] = (1.0, 1.0, 1.5),
               ext: str = ".nii.gz") -> tuple[str, str]:
    """Write a CT-like volume (HU) with a spherical enhancing tumour and its mask."""
    import SimpleITK as sitk

    rng = np.random.default_rng(seed)
    shape = (max(8, int(n * spacing[0] / spacing[2])), n, n)
    z, y, x = np.indices(shape).astype(float)
    c = [(s - 1) / 2 for s in shape]
    d = np.sqrt(((z - c[0]) * spacing[2]) ** 2 + ((y - c[1]) * spacing[1]) ** 2
                + ((x - c[2]) * spacing[0]) ** 2)
    img = 40 + rng.normal(0, 15, shape)
    inside = d < radius_mm
    img[inside] = 90 + rng.normal(0, 25, int(inside.sum()))
    img[:, :2, :] = -1000  # air
    im = sitk.GetImageFromArray(img.astype(np.int16))
    im.SetSpacing(spacing)
    im.SetOrigin((-12.0, 30.5, 100.0))
    m = sitk.GetImageFromArray(inside.astype(np.uint8))
    m.CopyInformation(im)
    folder.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(im, str(folder / f"{name}{ext}"))
    sitk.WriteImage(m, str(folder / f"{name}_mask{ext}"))
    return f"{name}{ext}", f"{name}_mask{ext}"


@pytest.fixture
def light_params(tmp_path: Path) -> Path:
    p = tmp_path / "light.yaml"
    p.write_text(LIGHT_PARAMS)
    return p


@pytest.fixture
def study(tmp_path: Path) -> Callable[..., Path]:
    """Write ``n`` cases under tmp_path/study/images and a manifest; return the manifest path."""

    def _make(n: int = 3, *, cohorts: tuple[str, ...] = ("training", "external"),
              extra_rows: list[dict[str, str]] | None = None) -> Path:
        root = tmp_path / "study"
        rows = []
        for i in range(n):
            img, msk = write_case(root / "images", f"p{i:03d}", seed=100 + i)
            rows.append({"patient_id": f"p{i:03d}", "cohort": cohorts[i % len(cohorts)],
                         "image": f"images/{img}", "mask": f"images/{msk}"})
        rows.extend(extra_rows or [])
        path = root / "manifest.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        return path

    return _make
