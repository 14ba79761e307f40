"""Shared fixtures.  An autouse guard fails any test that touches global np.random."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _no_global_random_state() -> Iterator[None]:
    before = np.random.get_state()[1].copy()  # noqa: NPY002 - the guard itself
    yield
    after = np.random.get_state()[1]  # noqa: NPY002
    if not np.array_equal(before, after):
        pytest.fail("test used the global numpy random state; pass an rng instead")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20231024)
