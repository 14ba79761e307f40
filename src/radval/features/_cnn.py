"""The compact 3-D CNN behind the deep features (imports torch: load lazily).

Architecture ``cnn3d_small`` for an input of ``C x S x S x S`` voxels (``S`` = crop size,
``C`` = 1 image channel + optionally the tumour mask)::

    stem   Conv3d(C, c1, 3, stride 2, pad 1) + BatchNorm + ReLU          S/2
    block  [Conv3d(c_i, c_{i+1}, 3, pad 1) + BatchNorm + ReLU + MaxPool(2)] for each
           further entry of ``channels``                                  S/2^k
    pool   "mask": average of the last feature maps weighted by the tumour mask
           (input channel 1, average-pooled to their resolution); "global": plain
           global average; "both": the two concatenated
    embed  Linear(c_last [x 2 for "both"], feature_dim) + tanh            deep features
    head   Dropout(p) + Linear(feature_dim, 1)                            outcome logit

The deep features ``deep_0 .. deep_{feature_dim-1}`` are the ``embed`` activations
(tanh keeps them bounded and avoids the constant, "dead" columns a ReLU layer can leave
on a small training set).
"""

from __future__ import annotations

import torch
from torch import nn

from radval.exceptions import ConfigError

__all__ = ["ARCHITECTURES", "POOLINGS", "SmallCNN3d", "build_network"]


class SmallCNN3d(nn.Module):
    """Compact 3-D CNN; ``forward`` returns ``(logit, features)``."""

    def __init__(self, *, in_channels: int, channels: tuple[int, ...], feature_dim: int,
                 dropout: float, pooling: str = "mask") -> None:
        super().__init__()
        if pooling not in POOLINGS or (pooling != "global" and in_channels < 2):
            msg = (f"pooling {pooling!r} needs one of {POOLINGS} and, unless 'global', the "
                   "mask as second input channel")
            raise ConfigError(msg)
        self.pooling = pooling
        self.factor = 2 ** len(channels)
        layers: list[nn.Module] = [
            nn.Conv3d(in_channels, channels[0], kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm3d(channels[0]),
            nn.ReLU(inplace=True),
        ]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [
                nn.Conv3d(c_in, c_out, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm3d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool3d(2),
            ]
        self.body = nn.Sequential(*layers)
        self.embed = nn.Linear(channels[-1] * (2 if pooling == "both" else 1), feature_dim)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations (batch x feature_dim)."""
        z = self.body(x)
        pooled = []
        if self.pooling in ("global", "both"):
            pooled.append(z.mean(dim=(2, 3, 4)))
        if self.pooling in ("mask", "both"):
            w = nn.functional.avg_pool3d(x[:, 1:2], self.factor)
            pooled.append((z * w).sum(dim=(2, 3, 4)) / (w.sum(dim=(2, 3, 4)) + 1e-6))
        return torch.tanh(self.embed(torch.cat(pooled, dim=1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return self.head(f).squeeze(1), f


ARCHITECTURES = ("cnn3d_small",)
POOLINGS = ("mask", "global", "both")


def build_network(architecture: str, *, in_channels: int, channels: tuple[int, ...],
                  feature_dim: int, dropout: float, pooling: str = "mask") -> SmallCNN3d:
    """Instantiate a network by name (only ``cnn3d_small`` for now)."""
    if architecture != "cnn3d_small":  # validated earlier by DeepConfig
        msg = f"unknown deep architecture {architecture!r}; known: {ARCHITECTURES}"
        raise ConfigError(msg)
    return SmallCNN3d(in_channels=in_channels, channels=channels, feature_dim=feature_dim,
                      dropout=dropout, pooling=pooling)
