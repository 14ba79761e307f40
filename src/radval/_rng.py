"""Stable random generators: one seed and text keys give the same stream in any process.

Every resampling step of the workflow draws from ``stable_rng(study.seed, <step>,
<cohort>, <model>, ...)`` so that results do not depend on the order in which steps run,
on the number of workers, or on which other steps ran before.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stable_rng"]

def stable_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and text keys (stable across runs and processes)."""
    words = [int(seed) % (2**32)] + [zlib.crc32(k.encode("utf-8")) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))
