"""Settings of the deep-feature network (``deep.json``): :class:`DeepConfig`.

Schema: ``data-dictionary/deep_config.yaml``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from radval._validation import param_error
from radval.exceptions import (
    ConfigError,
)

__all__ = ['CONFIG_FILE', 'WEIGHTS_FILE', 'DeepConfig']

logger = logging.getLogger("radval.features.deep")

_F32 = npt.NDArray[np.float32]


WEIGHTS_FILE = "deep.safetensors"


CONFIG_FILE = "deep.json"


_FORMAT = "radval-deep-model"


_FORMAT_VERSION = 1


class DeepConfig(BaseModel):
    """Configuration of the deep-feature network (stored in ``deep.json``).

    Schema: ``data-dictionary/deep_config.yaml``.

    Parameters
    ----------
    architecture : {"cnn3d_small"}
        Network (see :mod:`radval.features._cnn`).
    channels : tuple of int
        Convolution channels; the first layer has stride 2, each further one a max-pool.
    crop_size : int
        Crop edge in voxels (a multiple of ``2 ** len(channels)``).
    spacing_mm : float
        Isotropic voxel spacing of the crop (mm).
    window : (float, float)
        HU window ``(low, high)``.
    normalisation : {"window", "window_zscore"}
        Scale the windowed HU to [0, 1], or z-score them with the training crops' mean/SD.
    mask_channel : bool
        Feed the (soft) tumour mask as a second channel.
    pooling : {"mask", "global", "both"}
        Mask-weighted average of the last feature maps (focus on the tumour; needs
        ``mask_channel``), global average, or both concatenated.
    feature_dim : int
        Number of deep features (width of the penultimate layer).
    dropout : float
        Dropout before the output layer.
    epochs, batch_size : int
        Training length and mini-batch size.
    lr, weight_decay : float
        AdamW learning rate and weight decay.
    max_shift_vox : int
        Largest random shift (voxels) in augmentation; crops are built with this margin.
    intensity_jitter : float
        Intensity augmentation amplitude ``j`` (on the normalised scale).
    flips : bool
        Random flips along each axis.
    seed : int
        Seed of initialisation, augmentation and batch order.
    num_threads : int
        torch CPU threads inside training and extraction (1 = bit-reproducible).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    architecture: Literal["cnn3d_small"] = "cnn3d_small"
    channels: tuple[int, ...] = (8, 16, 32)
    crop_size: int = Field(default=32, ge=8, le=128)
    spacing_mm: float = Field(default=1.0, gt=0.0, le=10.0)
    window: tuple[float, float] = (-100.0, 240.0)
    normalisation: Literal["window", "window_zscore"] = "window"
    mask_channel: bool = True
    pooling: Literal["mask", "global", "both"] = "mask"
    feature_dim: int = Field(default=32, ge=2, le=1024)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    epochs: int = Field(default=30, ge=1, le=10_000)
    batch_size: int = Field(default=16, ge=1, le=4096)
    lr: float = Field(default=5e-3, gt=0.0)
    weight_decay: float = Field(default=1e-3, ge=0.0)
    max_shift_vox: int = Field(default=2, ge=0, le=16)
    intensity_jitter: float = Field(default=0.05, ge=0.0, le=1.0)
    flips: bool = True
    seed: int = Field(default=0, ge=0)
    num_threads: int = Field(default=1, ge=1, le=256)

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not 1 <= len(v) <= 6 or any(c < 1 or c > 1024 for c in v):
            msg = "channels must hold 1 to 6 integers in [1, 1024]"
            raise ValueError(msg)
        return v

    @field_validator("window")
    @classmethod
    def _window(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not v[0] < v[1]:
            msg = "window must be (low, high) with low < high"
            raise ValueError(msg)
        return v

    def model_post_init(self, __context: Any) -> None:
        """Check that the crop survives the downsampling."""
        factor = 2 ** len(self.channels)
        if self.crop_size % factor:
            msg = (f"crop_size ({self.crop_size}) must be a multiple of 2**len(channels) = "
                   f"{factor}")
            raise ValueError(msg)
        if self.pooling != "global" and not self.mask_channel:
            msg = f"pooling={self.pooling!r} needs mask_channel=True"
            raise ValueError(msg)

    @property
    def in_channels(self) -> int:
        """Number of input channels."""
        return 2 if self.mask_channel else 1


def _config(config: DeepConfig | Mapping[str, Any] | None, *, caller: str,
            seed: int | None = None) -> DeepConfig:
    if config is None:
        cfg = DeepConfig()
    elif isinstance(config, DeepConfig):
        cfg = config
    elif isinstance(config, Mapping):
        try:
            cfg = DeepConfig(**dict(config))
        except (ValidationError, ValueError, TypeError) as exc:
            raise ConfigError(f"{caller}: invalid deep-network config: {exc}") from exc
    else:
        raise param_error("config", caller, "a DeepConfig, a mapping or None", config)
    if seed is not None:
        cfg = cfg.model_copy(update={"seed": seed})
    return cfg
