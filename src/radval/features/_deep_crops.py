"""Tumour-centred crops of every manifest row, the input of the deep network.

A crop of ``crop_size^3`` voxels at an isotropic ``spacing_mm`` (identity direction,
centred on the mask's centroid) is resampled from the image (linear, outside = -1024 HU)
and the mask (linear: a soft partial-volume mask).

The crops built in this process are kept (:class:`_CropMemo`, at most 256 MB, least
recently used dropped first) under the files' identity (path, size, modification time) and
the crop settings: ``radval run`` crops the development scans to train the network, then
again for the optimism bootstrap's networks
(:func:`radval.features.deep_refit.prepare_refit`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._validation import check_positive_int, param_error
from radval.exceptions import (
    ExtractionError,
    InputError,
    MissingInputError,
)
from radval.features._deep_config import DeepConfig, _config
from radval.features.checks import problem

__all__ = ['build_crops']

logger = logging.getLogger("radval.features.deep")

_F32 = npt.NDArray[np.float32]


# --------------------------------------------------------------------------- crops
class _CropMemo:
    """The crops built in this process, by file identity and crop settings (thread-safe)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], _F32] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(image_path: str, mask_path: str, label: int, cfg: DeepConfig,
            margin: int) -> tuple[Any, ...] | None:
        try:
            files = tuple((os.path.realpath(p), st.st_size, st.st_mtime_ns, st.st_ino)
                          for p in (image_path, mask_path) for st in [os.stat(p)])
        except OSError:
            return None  # reported when the crop is built
        return (files, label, margin, cfg.crop_size, cfg.spacing_mm, tuple(cfg.window),
                cfg.mask_channel)

    def get(self, key: tuple[Any, ...] | None) -> _F32 | None:
        with self._lock:
            if key is None or key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: tuple[Any, ...] | None, crop: _F32) -> None:
        if key is None or crop.nbytes > self.max_bytes:
            return
        crop = crop.copy()
        crop.flags.writeable = False  # shared by every later caller
        with self._lock:
            if key in self._items:
                return
            self._items[key] = crop
            self._bytes += crop.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes


_MEMO = _CropMemo(256 * 2**20)


def _load_manifest(manifest: Any, *, caller: str) -> pd.DataFrame:
    """A manifest with ``image_path``/``mask_path`` columns (radval.io.manifest)."""
    from radval.io.manifest import prepare_manifest, read_manifest

    if isinstance(manifest, pd.DataFrame):
        if {"image_path", "mask_path"} <= set(manifest.columns):
            df = manifest.copy()
            if "reader" not in df.columns:
                df["reader"] = "1"
            if "label" not in df.columns:
                df["label"] = 1
            df["patient_id"] = df["patient_id"].astype(str)
            df["reader"] = df["reader"].astype(str)
            df["cohort"] = df["cohort"].astype(str)
            return df.reset_index(drop=True)
        return prepare_manifest(manifest, caller=caller)
    if isinstance(manifest, str | os.PathLike):
        return read_manifest(manifest)
    raise param_error("manifest", caller, "a manifest path or DataFrame", manifest)


def _crop_one(image_path: str, mask_path: str, label: int, cfg: DeepConfig,
              margin: int) -> _F32:
    """Resample one tumour-centred crop: array (channels, S, S, S), windowed, float32."""
    import SimpleITK as sitk

    from radval.io.images import read_image, read_mask

    img = read_image(image_path)
    msk = read_mask(mask_path, reference=img, label=label)
    arr = sitk.GetArrayViewFromImage(msk) == label
    if not arr.any():
        msg = f"label {label} absent from the mask"
        raise ExtractionError(msg)
    zyx = np.argwhere(arr).mean(axis=0)
    centre = np.array(msk.TransformContinuousIndexToPhysicalPoint(
        [float(zyx[2]), float(zyx[1]), float(zyx[0])]))
    size = cfg.crop_size + 2 * margin
    sp = cfg.spacing_mm
    origin = centre - sp * (size - 1) / 2.0
    ref = sitk.Image(size, size, size, sitk.sitkFloat32)
    ref.SetSpacing((sp, sp, sp))
    ref.SetOrigin(tuple(float(v) for v in origin))
    img_r = sitk.Resample(sitk.Cast(img, sitk.sitkFloat32), ref, sitk.Transform(),
                          sitk.sitkLinear, -1024.0, sitk.sitkFloat32)
    bin_mask = sitk.Cast(sitk.Equal(msk, label), sitk.sitkFloat32)
    msk_r = sitk.Resample(bin_mask, ref, sitk.Transform(), sitk.sitkLinear, 0.0,
                          sitk.sitkFloat32)
    lo, hi = cfg.window
    raw = sitk.GetArrayFromImage(img_r)
    if not np.isfinite(raw).all():  # NaN would pass np.clip and reach the network
        msg = (f"{int((~np.isfinite(raw)).sum())} voxel(s) of the crop around the mask are NaN "
               "or infinite")
        raise ExtractionError(msg)
    x = (np.clip(raw, lo, hi) - lo) / (hi - lo)
    chans = [x.astype(np.float32)]
    if cfg.mask_channel:
        chans.append(np.clip(sitk.GetArrayFromImage(msk_r), 0.0, 1.0).astype(np.float32))
    return np.stack(chans).astype(np.float32)


def build_crops(manifest: Any, config: DeepConfig | Mapping[str, Any] | None = None, *,
                margin: int = 0, jobs: int = 1) -> tuple[_F32, pd.DataFrame, pd.DataFrame]:
    """Tumour-centred network inputs for every manifest row.

    Parameters
    ----------
    manifest : DataFrame or path
        Manifest (see ``data-dictionary/manifest.yaml``).
    config : DeepConfig or mapping, optional
        Network configuration (crop size, spacing, window, mask channel).
    margin : int, optional
        Extra voxels on each side (for shift augmentation).
    jobs : int, optional
        Threads (SimpleITK releases the GIL while resampling).

    Returns
    -------
    crops : ndarray, float32, shape (n_ok, channels, S + 2 margin, ...)
        Windowed to [0, 1] (before any z-scoring).
    rows : DataFrame
        Manifest rows of the crops (``patient_id, reader, cohort``, same order).
    failures : DataFrame
        ``patient_id, reader, cohort, image, mask, stage, reason`` of rows that failed.
    """
    caller = "build_crops"
    cfg = _config(config, caller=caller)
    jobs = check_positive_int(jobs, caller=caller, param="jobs")
    man = _load_manifest(manifest, caller=caller)

    def one(i: int) -> _F32 | str:
        r = man.iloc[i]
        try:
            args = (str(r["image_path"]), str(r["mask_path"]), int(r["label"]), cfg, margin)
            key = _MEMO.key(*args)
            crop = _MEMO.get(key)
            if crop is None:
                crop = _crop_one(*args)
                _MEMO.put(key, crop)
            return crop
        except (InputError, MissingInputError, ExtractionError, RuntimeError) as exc:
            return f"{type(exc).__name__}: {exc}"

    if jobs > 1 and len(man) > 1:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            out = list(pool.map(one, range(len(man))))
    else:
        out = [one(i) for i in range(len(man))]
    ok = [i for i, o in enumerate(out) if not isinstance(o, str)]
    fail_rows = []
    for i, o in enumerate(out):
        if isinstance(o, str):
            # problem(): the reason without absolute paths, as every failures-table row
            row = {**{str(k): v for k, v in man.iloc[i].items()}, "root": man.attrs.get("root")}
            fail_rows.append(problem(row, "deep_crop", o))
    failures = pd.DataFrame(fail_rows, columns=["patient_id", "reader", "cohort", "image",
                                                "mask", "stage", "reason"])
    size = cfg.crop_size + 2 * margin
    if ok:
        crops = np.stack([out[i] for i in ok]).astype(np.float32)  # type: ignore[misc]
    else:
        crops = np.zeros((0, cfg.in_channels, size, size, size), dtype=np.float32)
    rows = man.iloc[ok][["patient_id", "reader", "cohort"]].reset_index(drop=True)
    return crops, rows, failures


def _crops_or_raise(manifest: Any, cfg: DeepConfig, *, margin: int, jobs: int, caller: str
                    ) -> tuple[_F32, pd.DataFrame, pd.DataFrame]:
    """:func:`build_crops`, each failed row logged; ExtractionError when none is left."""
    crops, rows, failures = build_crops(manifest, cfg, margin=margin, jobs=jobs)
    for rec in failures.itertuples(index=False):
        logger.warning("%s: %s (reader %s) failed: %s", caller, rec.patient_id, rec.reader,
                       rec.reason)
    if len(rows) == 0:
        raise ExtractionError(f"{caller}: no manifest row could be processed "
                              f"({len(failures)} failure(s))")
    return crops, rows, failures
