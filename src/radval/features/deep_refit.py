"""The deep network trained again in every optimism resample (:class:`DeepRefit`).

Harrell's optimism bootstrap repeats every step fitted on the development cohort inside
each resample; the network is such a step when radval trains it on the outcome
(:mod:`radval.workflow._internal`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._validation import check_binary, param_error
from radval.exceptions import (
    InputError,
)
from radval.features._deep_config import DeepConfig, _config
from radval.features._deep_crops import _crops_or_raise
from radval.features.deep import _centre, _device, _fit_network, _torch_context, _training_rows

__all__ = ['DeepRefit', 'prepare_refit']

logger = logging.getLogger("radval.features.deep")

_F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class DeepRefit:
    """Development scans cropped once, to train the network again in bootstrap resamples.

    Harrell's optimism bootstrap must repeat every step fitted on the development
    cohort inside each resample (Harrell 2015, §5.3.4); the network is such a step when
    radval trains it on the outcome.  :meth:`features` trains a new network on a
    resample with exactly the procedure of :func:`train_deep_model` (same configuration,
    a seed of its own) and returns the features that network gives every development
    scan, so that selection and fitting in the resample see features learned from the
    resample only.  Build it with :func:`prepare_refit`.

    Attributes
    ----------
    config : DeepConfig
        Settings of the final network (the seed is replaced in each resample).
    crops : ndarray, float32, shape (n_rows, channels, S + 2 m, S + 2 m, S + 2 m)
        Every development manifest row (all readers), with the augmentation margin
        ``m = config.max_shift_vox``.
    rows : DataFrame
        ``patient_id, reader`` (str) of each crop.
    device : str
        Training device.
    """

    config: DeepConfig
    crops: _F32
    rows: pd.DataFrame
    device: str = "cpu"

    @property
    def feature_names(self) -> list[str]:
        """``deep_0 .. deep_{feature_dim-1}``."""
        return [f"deep_{k}" for k in range(self.config.feature_dim)]

    def first_reader_rows(self, patients: Any) -> npt.NDArray[np.intp]:
        """Positions in :attr:`rows` of the training scan of each patient (the primary
        segmentation, as in the final training), in the order given (repeats allowed)."""
        pos = _training_rows(self.rows)
        ids = pd.Index([str(p) for p in patients])
        missing = ids.difference(pos.index)
        if len(missing):
            shown = ", ".join(map(str, missing[:5]))
            raise InputError(f"DeepRefit: no development scan for patient(s) {shown}")
        return pos.loc[ids].to_numpy(dtype=np.intp)

    def features(self, patients: Any, labels: Any, *, seed: int) -> pd.DataFrame:
        """Train a network on ``patients`` (a bootstrap sample) and extract features.

        Parameters
        ----------
        patients : sequence of str
            Patient ids of the resample, repeats allowed (a patient drawn twice is
            trained on twice).
        labels : array-like of {0, 1}
            Outcome of each entry of ``patients``.
        seed : int
            Seed of this network (initialisation, augmentation, batch order).

        Returns
        -------
        DataFrame
            ``patient_id, reader, deep_0 ..`` for every row of :attr:`rows` (float64);
            ``attrs["training"]`` holds the training summary.
        """
        caller = "DeepRefit.features"
        y = check_binary(labels, caller=caller, param="labels")
        pos = self.first_reader_rows(patients)
        if len(pos) != len(y):
            raise param_error("labels", caller, f"one label per patient ({len(pos)})",
                              f"{len(y)} labels")
        cfg = self.config.model_copy(update={"seed": int(seed)})
        model = _fit_network(self.crops[pos], y, cfg, self.device)
        centre = _centre(self.crops, cfg.max_shift_vox, cfg.crop_size)
        with _torch_context(cfg.seed, cfg.num_threads):
            _, feats = model._forward(centre)
        out = pd.concat([self.rows[["patient_id", "reader"]].reset_index(drop=True),
                         pd.DataFrame(feats, columns=self.feature_names)], axis=1)
        out.attrs["training"] = model.training
        return out


def prepare_refit(manifest: Any, config: DeepConfig | Mapping[str, Any] | None = None, *,
                  jobs: int = 1,
                  device: str | None = "cpu") -> DeepRefit:
    """Crop every development scan once for :class:`DeepRefit`.

    Parameters
    ----------
    manifest : DataFrame or path
        Development cohort rows (every reader: the second readers' crops give the
        features of the ICC step in each resample).
    config : DeepConfig or mapping, optional
        Settings of the final network (``DeepModel.config``).
    jobs : int, optional
        Threads used to build the crops.
    device : str, optional
        Training device (default CPU, so that resamples are reproducible anywhere).

    Raises
    ------
    ExtractionError
        No row could be cropped.
    """
    caller = "prepare_refit"
    cfg = _config(config, caller=caller)
    dev = _device(device, caller)
    crops, rows, _ = _crops_or_raise(manifest, cfg, margin=cfg.max_shift_vox, jobs=jobs,
                                     caller=caller)
    rows = rows[["patient_id", "reader"]].astype(str).reset_index(drop=True)
    return DeepRefit(config=cfg, crops=crops, rows=rows, device=dev)
