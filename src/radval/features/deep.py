"""Deep-learning features: a compact 3-D CNN trained on the development cohort.

No pretrained weights can be downloaded in the settings radval targets, so the
default network (:mod:`radval.features._cnn`, ``cnn3d_small``) is trained from scratch
on the development cohort only, to predict the outcome, and its penultimate-layer
activations are the deep features ``deep_0 .. deep_{k-1}`` of every cohort.

Input
    For every manifest row, a tumour-centred crop of ``crop_size^3`` voxels at an
    isotropic ``spacing_mm`` (identity direction, centred on the mask's centroid) is
    resampled from the image (linear interpolation, outside = -1024 HU) and the mask
    (linear, i.e. a soft partial-volume mask).  HU are clipped to ``window`` and scaled
    to [0, 1] (``normalisation="window"``) or z-scored inside the window
    (``"window_zscore"``, using the mean and SD of the training crops' image channel,
    stored with the model).
    With ``mask_channel=True`` the mask is a second input channel.
Training
    Class-weighted binary cross-entropy (``pos_weight = n_negative / n_positive``), AdamW,
    augmentation: random flips along each axis, random shifts of up to ``max_shift_vox``
    voxels and intensity jitter (``x * U(1 - j, 1 + j) + U(-j, j)``, ``j =
    intensity_jitter``).  :class:`radval.features.deep_refit.DeepRefit` runs the same
    training loop on bootstrap resamples of the development scans, for the optimism
    correction (:mod:`radval.workflow._internal`).
Determinism
    Training and extraction run inside a context that forks torch's global random state,
    seeds it (``torch.manual_seed(seed)``), switches on
    ``torch.use_deterministic_algorithms(True)`` and sets ``torch.set_num_threads(
    num_threads)`` (default 1), restoring all three afterwards; augmentation and batch
    order come from ``numpy.random.default_rng(seed)``.  On the CPU the same seed and data
    give bit-identical weights and features.  Training uses CUDA when available
    (``device=None``); results on a GPU are reproducible on that GPU only.  Extraction runs
    on the CPU by default so that every site computes the same features from the same
    weights.
Storage
    :meth:`DeepModel.save` writes ``deep.safetensors`` (weights, never pickled) and
    ``deep.json`` (config, sha256 of the weights, radval and torch versions, training
    summary).  :func:`load_deep_model` verifies the checksum and never unpickles.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import ValidationError

from radval._provenance import atomic_write_bytes, atomic_write_json, sha256_file
from radval._validation import check_binary, check_positive_int, param_error
from radval.exceptions import (
    BundleError,
    DataError,
    InputError,
    MissingInputError,
)
from radval.features._deep_config import (
    _FORMAT,
    _FORMAT_VERSION,
    CONFIG_FILE,
    WEIGHTS_FILE,
    DeepConfig,
    _config,
)
from radval.features._deep_crops import _crops_or_raise, _load_manifest, build_crops
from radval.stats._kernels import rank_auc

if TYPE_CHECKING:  # pragma: no cover
    from radval.features._cnn import SmallCNN3d

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "DeepConfig",
    "DeepModel",
    "build_crops",
    "extract_deep_features",
    "load_deep_model",
    "train_deep_model",
]

logger = logging.getLogger(__name__)

_F32 = npt.NDArray[np.float32]


# --------------------------------------------------------------------------- torch context
@contextlib.contextmanager
def _torch_context(seed: int, threads: int) -> Iterator[None]:
    """Seeded, deterministic, ``threads``-thread torch; global state restored afterwards."""
    import torch

    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(prev_threads)
            torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)


def _device(device: str | None, caller: str) -> str:
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise param_error("device", caller, "'cpu', 'cuda', 'cuda:<n>' or None", device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise param_error("device", caller, "an available device (no CUDA here)", device)
    return device


# --------------------------------------------------------------------------- model
@dataclass(eq=False)
class DeepModel:
    """A trained deep-feature network with its configuration.

    Attributes
    ----------
    config : DeepConfig
        Configuration (architecture, crop, window, training settings).
    network : torch.nn.Module
        The network, in evaluation mode, on the CPU.
    norm_mean, norm_sd : float
        Image-channel z-scoring constants (``normalisation="window_zscore"``; 0 and 1
        otherwise).
    training : dict
        Training summary (n, events, epochs, final loss, apparent AUC, seconds).
    """

    config: DeepConfig
    network: SmallCNN3d
    norm_mean: float = 0.0
    norm_sd: float = 1.0
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        """``deep_0 .. deep_{feature_dim-1}``."""
        return [f"deep_{k}" for k in range(self.config.feature_dim)]

    def metadata(self, weights_sha256: str | None = None) -> dict[str, Any]:
        """The content of ``deep.json`` (config, normalisation constants, versions, training).

        ``weights_sha256`` is filled in by :meth:`save`; store this dict (e.g. in a signature
        bundle) to reload the model with :func:`load_deep_model`.
        """
        from radval import __version__
        from radval._provenance import package_versions

        return {
            "format": _FORMAT, "format_version": _FORMAT_VERSION,
            "radval_version": __version__,
            "torch_version": package_versions(["torch"]).get("torch"),
            "config": self.config.model_dump(mode="json"),
            "normalisation_constants": {"mean": self.norm_mean, "sd": self.norm_sd},
            "weights_file": WEIGHTS_FILE, "weights_sha256": weights_sha256,
            "feature_names": self.feature_names,
            "training": self.training,
        }

    def save(self, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``deep.safetensors`` and ``deep.json`` into ``out_dir``.

        Returns
        -------
        (weights_path, config_path)
        """
        from safetensors.torch import save

        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in
                 self.network.state_dict().items()}
        data = save(state, metadata={"format": _FORMAT})
        wpath, cpath = d / WEIGHTS_FILE, d / CONFIG_FILE
        atomic_write_bytes(wpath, data)
        atomic_write_json(cpath, self.metadata(sha256_file(wpath)))
        return wpath, cpath

    def predict_logit(self, crops: _F32) -> npt.NDArray[np.float64]:
        """Outcome logits of the network for prepared crops (diagnostic)."""
        logits, _ = self._forward(crops)
        return logits

    def _forward(self, crops: _F32, batch: int = 64
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        import torch

        x_all = self._normalise(crops)
        logits, feats = [], []
        self.network.eval()
        with torch.no_grad():
            for start in range(0, len(x_all), batch):
                x = torch.from_numpy(x_all[start:start + batch])
                lg, f = self.network(x)
                logits.append(lg.double().numpy())
                feats.append(f.double().numpy())
        if not logits:
            return np.zeros(0), np.zeros((0, self.config.feature_dim))
        return np.concatenate(logits), np.concatenate(feats)

    def _normalise(self, crops: _F32) -> _F32:
        if self.config.normalisation == "window_zscore":
            crops = crops.copy()
            crops[:, 0] = (crops[:, 0] - self.norm_mean) / self.norm_sd
        return np.ascontiguousarray(crops, dtype=np.float32)


def _labels_for(rows: pd.DataFrame, labels: Any, n_manifest: int, man: pd.DataFrame,
                caller: str) -> npt.NDArray[np.int64]:
    if isinstance(labels, pd.Series | Mapping):
        lab = pd.Series(labels)
        lab.index = lab.index.astype(str)
        missing = sorted(set(rows["patient_id"]) - set(lab.index))
        if missing:
            shown = ", ".join(missing[:5])
            raise InputError(f"{caller}: no label for patient(s) {shown}"
                             + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
        if lab.index.has_duplicates:
            raise InputError(f"{caller}: 'labels' has duplicate patient ids")
        values = lab.loc[rows["patient_id"]].to_numpy()
    else:
        arr = np.asarray(labels)
        if arr.ndim != 1 or len(arr) != n_manifest:
            raise param_error("labels", caller, "a Series indexed by patient_id, a mapping, "
                              f"or an array with one value per manifest row ({n_manifest})",
                              f"shape {arr.shape}")
        by_pid = dict(zip(man["patient_id"], arr))
        values = np.array([by_pid[p] for p in rows["patient_id"]])
    return check_binary(values, caller=caller, param="labels")


def train_deep_model(manifest: Any, labels: Any, *,
                     config: DeepConfig | Mapping[str, Any] | None = None,
                     seed: int | None = None, device: str | None = None,
                     jobs: int = 1) -> DeepModel:
    """Train the deep-feature network on development-cohort scans.

    Parameters
    ----------
    manifest : DataFrame or path
        Development cohort only (the caller filters it).  With several readers, reader
        ``"1"`` (else the first row) of each patient is used.
    labels : Series, mapping or array-like
        Binary outcome: indexed by ``patient_id`` (Series / mapping), or one value per
        manifest row.
    config : DeepConfig or mapping, optional
        Network and training settings (defaults: :class:`DeepConfig`).
    seed : int, optional
        Seed; overrides ``config.seed`` when given (``DeepConfig`` default: 0).
    device : str, optional
        ``"cpu"``, ``"cuda"``; default CUDA when available, else CPU.
    jobs : int, optional
        Threads used to build the crops.

    Returns
    -------
    DeepModel
        The trained network (evaluation mode, CPU).

    Raises
    ------
    DataError
        Fewer than 4 usable patients.
    InputError
        A patient without a label, a non-binary label or a single outcome class.
    """
    caller = "train_deep_model"
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
                             or seed < 0):
        raise param_error("seed", caller, "a non-negative integer or None", seed)
    cfg = _config(config, caller=caller, seed=None if seed is None else int(seed))
    dev = _device(device, caller)
    man = _load_manifest(manifest, caller=caller)
    if man.empty:
        raise param_error("manifest", caller, "a non-empty manifest", "0 rows")
    first = man.iloc[np.sort(_training_rows(man).to_numpy())]
    t0 = time.perf_counter()
    margin = cfg.max_shift_vox
    crops, rows, failures = build_crops(first, cfg, margin=margin, jobs=jobs)
    if len(failures):
        for rec in failures.itertuples(index=False):
            logger.warning("deep training: %s skipped (%s)", rec.patient_id, rec.reason)
    if len(rows) < 4:
        raise DataError(f"{caller}: only {len(rows)} usable training scan(s); need >= 4")
    y = _labels_for(rows, labels, len(man), man, caller)
    t_crops = time.perf_counter() - t0

    model = _fit_network(crops, y, cfg, dev)
    model.training["skipped"] = int(len(failures))
    model.training["seconds_crops"] = round(t_crops, 3)
    model.training["seconds_total"] = round(time.perf_counter() - t0, 3)
    logger.info("deep network trained on %d scans (%d events) in %.1f s; apparent AUC %.3f",
                len(y), int(y.sum()), model.training["seconds_total"],
                model.training["apparent_auc"])
    return model


def _training_rows(rows: pd.DataFrame) -> pd.Series:
    """Patient id -> position in ``rows`` of the patient's training scan: the patient's
    primary segmentation (:func:`radval.io.coding.primary_rows`, the rule of every step)."""
    from radval.io.coding import primary_rows

    first = primary_rows(rows.assign(_pos=np.arange(len(rows))))
    return first.set_index(first["patient_id"].astype(str))["_pos"]


def _centre(crops: _F32, margin: int, size: int) -> _F32:
    """The central ``size^3`` block of crops built with ``margin`` (same voxel grid as a
    crop built without margin, so the same values)."""
    return np.ascontiguousarray(crops[:, :, margin:margin + size, margin:margin + size,
                                      margin:margin + size])


def _fit_network(crops: _F32, y: npt.NDArray[np.int64], cfg: DeepConfig,
                 dev: str) -> DeepModel:
    """The training loop on prepared crops (built with margin ``cfg.max_shift_vox``).

    Shared by :func:`train_deep_model` and :meth:`DeepRefit.features`, so that the
    network of every bootstrap resample is trained exactly like the final one.
    """
    import torch

    from radval.features._cnn import build_network

    t0 = time.perf_counter()
    margin = cfg.max_shift_vox
    s = cfg.crop_size
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    centre = _centre(crops, margin, s)
    norm_mean, norm_sd = 0.0, 1.0
    if cfg.normalisation == "window_zscore":  # statistics of the un-augmented inputs
        norm_mean = float(centre[:, 0].astype(np.float64).mean())
        norm_sd = float(centre[:, 0].astype(np.float64).std()) or 1.0

    rng = np.random.default_rng(cfg.seed)
    with _torch_context(cfg.seed, cfg.num_threads):
        net = build_network(cfg.architecture, in_channels=cfg.in_channels,
                            channels=cfg.channels, feature_dim=cfg.feature_dim,
                            dropout=cfg.dropout, pooling=cfg.pooling).to(dev)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                foreach=True)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
        loss_fn = torch.nn.BCEWithLogitsLoss(
            pos_weight=torch.tensor(n_neg / n_pos, dtype=torch.float32, device=dev))
        yt = y.astype(np.float32)
        losses: list[float] = []
        net.train()
        for _epoch in range(cfg.epochs):
            perm = rng.permutation(len(y))
            total = 0.0
            for start in range(0, len(perm), cfg.batch_size):
                idx = perm[start:start + cfg.batch_size]
                if len(idx) < 2:  # BatchNorm needs more than one sample
                    continue
                xb = _augment(crops, idx, cfg, rng, margin, s)
                if cfg.normalisation == "window_zscore":
                    xb[:, 0] = (xb[:, 0] - norm_mean) / norm_sd
                xt = torch.from_numpy(xb).to(dev)
                target = torch.from_numpy(yt[idx]).to(dev)
                opt.zero_grad()
                logit, _ = net(xt)
                loss = loss_fn(logit, target)
                loss.backward()
                opt.step()
                total += float(loss.detach().cpu()) * len(idx)
            sched.step()
            losses.append(total / len(y))
        net = net.cpu().eval()
    model = DeepModel(config=cfg, network=net, norm_mean=norm_mean, norm_sd=norm_sd)
    with _torch_context(cfg.seed, cfg.num_threads):
        logits, _ = model._forward(centre)
    model.training = {
        "n": len(y), "events": n_pos, "skipped": 0, "epochs": cfg.epochs,
        "device": dev, "final_loss": losses[-1] if losses else math.nan,
        "loss_history": [round(v, 6) for v in losses],
        "apparent_auc": rank_auc(y, logits), "seconds_crops": 0.0,
        "seconds_total": round(time.perf_counter() - t0, 3),
    }
    return model


def _augment(crops: _F32, idx: npt.NDArray[np.int64], cfg: DeepConfig,
             rng: np.random.Generator, margin: int, s: int) -> _F32:
    """Random shift (sub-crop), flips and intensity jitter of the mini-batch ``crops[idx]``.

    Each sample draws, in this order, its shift (``integers(0, 2 * margin + 1, size=3)``),
    its three flips (``random(3)``, the same numbers as three ``random()``) and its jitter
    (two ``uniform``); the same seed gives the same batches and so the same network.
    """
    n = len(idx)
    out = np.empty((n, crops.shape[1], s, s, s), dtype=np.float32)
    jit = cfg.intensity_jitter
    # float32 like the crops: x * float32(scale) + float32(shift), as with Python floats
    scales = np.empty(n, dtype=np.float32)
    shifts = np.empty(n, dtype=np.float32)
    k = 2 * margin + 1
    for j, i in enumerate(idx):  # views of the crop, one copy into the batch
        oz, oy, ox = rng.integers(0, k, size=3) if margin else (0, 0, 0)
        v = crops[i, :, oz:oz + s, oy:oy + s, ox:ox + s]
        if cfg.flips:
            flip = rng.random(3) < 0.5
            if flip[0]:
                v = v[:, ::-1]
            if flip[1]:
                v = v[:, :, ::-1]
            if flip[2]:
                v = v[:, :, :, ::-1]
        out[j] = v
        if jit > 0:
            scales[j] = rng.uniform(1 - jit, 1 + jit)
            shifts[j] = rng.uniform(-jit, jit)
    if jit > 0:
        ch = out[:, 0]
        ch *= scales[:, None, None, None]
        ch += shifts[:, None, None, None]
    return out


def extract_deep_features(manifest: Any, model: DeepModel, *, jobs: int = 1,
                          device: str = "cpu") -> pd.DataFrame:
    """Deep features of every manifest row from a trained (or loaded) network.

    Parameters
    ----------
    manifest : DataFrame or path
        Any cohort(s); every row (patient, reader) gets a feature row.
    model : DeepModel
        From :func:`train_deep_model` or :func:`load_deep_model`.
    jobs : int, optional
        Threads used to build the crops.
    device : str, optional
        Only ``"cpu"`` is supported for extraction, so that every site computes identical
        features from the same weights.

    Returns
    -------
    DataFrame
        ``patient_id, reader, cohort, deep_0 .. deep_{k-1}`` (float64), one row per
        successful manifest row.  ``attrs["failures"]`` holds the failures table (``patient_id,
        reader, cohort, image, mask, stage, reason``) of rows whose crop could not be built.

    Raises
    ------
    ExtractionError
        No row could be processed.
    """
    caller = "extract_deep_features"
    if not isinstance(model, DeepModel):
        raise param_error("model", caller, "a DeepModel (train_deep_model / load_deep_model)",
                          model)
    if device != "cpu":
        raise param_error("device", caller, "'cpu' (features must not depend on hardware)",
                          device)
    jobs = check_positive_int(jobs, caller=caller, param="jobs")
    crops, rows, failures = _crops_or_raise(manifest, model.config, margin=0, jobs=jobs,
                                            caller=caller)
    with _torch_context(model.config.seed, model.config.num_threads):
        _, feats = model._forward(crops)
    out = pd.concat([rows.astype(str), pd.DataFrame(feats, columns=model.feature_names)],
                    axis=1)
    out.attrs["failures"] = failures
    return out


def load_deep_model(weights_path: str | os.PathLike[str],
                    config_path: str | os.PathLike[str] | Mapping[str, Any] | None = None
                    ) -> DeepModel:
    """Load a network saved by :meth:`DeepModel.save` (safetensors; nothing is unpickled).

    Parameters
    ----------
    weights_path : path
        ``deep.safetensors`` (or the folder holding it).
    config_path : path or mapping, optional
        ``deep.json``; default: ``deep.json`` next to the weights.  A mapping is taken as
        the content of ``deep.json`` (:meth:`DeepModel.metadata`, e.g. stored inside a
        signature bundle) or as bare :class:`DeepConfig` fields.

    Raises
    ------
    MissingInputError
        A file is missing.
    BundleError
        The checksum does not match, the JSON is not a radval deep-model config, or the
        weights do not fit the architecture.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    from radval.features._cnn import build_network

    wpath = Path(weights_path)
    if wpath.is_dir():
        wpath = wpath / WEIGHTS_FILE
    if not wpath.is_file():
        raise MissingInputError(f"deep-network weights not found: {wpath.name}")
    meta: Any
    if isinstance(config_path, Mapping):
        cname = "deep-network config"
        meta = dict(config_path)
        if "format" not in meta:  # bare DeepConfig fields
            meta = {"format": _FORMAT, "format_version": _FORMAT_VERSION, "config": meta}
    else:
        cpath = Path(config_path) if config_path is not None else wpath.with_name(CONFIG_FILE)
        cname = cpath.name
        if not cpath.is_file():
            raise MissingInputError(f"deep-network config not found: {cpath.name}")
        try:
            meta = json.loads(cpath.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{cpath.name}: not a readable JSON file ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise BundleError(f"{cname}: not a radval deep-model config "
                          f"(format {meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("format_version") != _FORMAT_VERSION:
        raise BundleError(f"{cname}: format_version {meta.get('format_version')!r} is not "
                          f"supported (expected {_FORMAT_VERSION})")
    recorded = meta.get("weights_sha256")
    data = wpath.read_bytes()
    if recorded is not None:
        from radval._provenance import sha256_bytes

        actual = sha256_bytes(data)
        if actual != recorded:
            raise BundleError(f"{wpath.name}: sha256 {actual[:12]}... does not match "
                              f"{cname} ({str(recorded)[:12]}...): modified or corrupted")
    try:
        cfg = DeepConfig(**meta["config"])
    except (KeyError, TypeError, ValidationError, ValueError) as exc:
        raise BundleError(f"{cname}: invalid config ({exc})") from exc
    try:
        state = load(data)
    except (SafetensorError, ValueError) as exc:
        raise BundleError(f"{wpath.name}: not a safetensors file ({exc})") from exc
    net = build_network(cfg.architecture, in_channels=cfg.in_channels, channels=cfg.channels,
                        feature_dim=cfg.feature_dim, dropout=cfg.dropout,
                        pooling=cfg.pooling)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise BundleError(f"{wpath.name}: weights do not fit the {cfg.architecture} "
                          f"architecture of {cname} ({exc})") from exc
    net.eval()
    consts = meta.get("normalisation_constants") or {}
    return DeepModel(config=cfg, network=net, norm_mean=float(consts.get("mean", 0.0)),
                     norm_sd=float(consts.get("sd", 1.0)),
                     training=dict(meta.get("training") or {}))
