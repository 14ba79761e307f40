"""Batch diagnostics: separability before/after ComBat; batch-outcome association vs R."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from radval.exceptions import InputError, SmallSampleWarning
from radval.harmonize import ComBat, batch_outcome_association, batch_separability

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "combat.json").read_text())
X = np.asarray(REF["features"], dtype=np.float64)
BATCH = np.asarray(REF["batch"], dtype=object)
ASSOC = REF["association"]


def test_separability_falls_to_chance_after_combat() -> None:
    before = batch_separability(X, BATCH, rng=1)
    after = batch_separability(ComBat().fit_transform(X, BATCH), BATCH, rng=1)
    assert before.auc > 0.7
    assert after.auc < 0.6
    assert before.fraction_significant > after.fraction_significant
    assert before.median_kruskal_h > 5 * after.median_kruskal_h
    assert list(before.pca.columns) == ["pc1", "pc2", "batch"]
    assert len(before.pca) == len(BATCH) and 0 < before.explained_variance_ratio.sum() <= 1
    # same seed, same folds, same result
    assert batch_separability(X, BATCH, rng=1).auc == before.auc
    assert set(before.per_feature.columns) == {"feature", "kruskal_h", "p_value", "q_value"}


def test_separability_of_pure_noise_is_near_chance(rng: np.random.Generator) -> None:
    x = rng.normal(size=(120, 8))
    b = np.repeat(["s1", "s2", "s3"], 40)
    r = batch_separability(x, b, rng=rng)
    assert 0.3 < r.auc < 0.7
    assert r.n_batches == 3 and r.n_splits == 5


def test_batch_outcome_association_matches_R_chisq_test() -> None:
    r = batch_outcome_association(BATCH, ASSOC["y"])
    assert r.method == "pearson_chi2"
    assert r.statistic == pytest.approx(ASSOC["chisq_statistic"], rel=1e-12)
    assert r.df == ASSOC["chisq_df"]
    assert r.p_value == pytest.approx(ASSOC["chisq_p"], rel=1e-10)
    assert r.associated == (ASSOC["chisq_p"] < 0.05)
    assert set(r.table.columns) >= {"batch", "n_event", "n_no_event", "event_rate"}


def test_batch_outcome_association_small_2x2_uses_fisher_as_R() -> None:
    r = batch_outcome_association(ASSOC["small_batch"], ASSOC["small_y"])
    assert r.method == "fisher_exact"
    assert r.p_value == pytest.approx(ASSOC["fisher_p"], rel=1e-10)


def test_batch_outcome_association_detects_confounding_and_warns_small() -> None:
    b = ["a"] * 60 + ["b"] * 60
    y = [0] * 50 + [1] * 10 + [0] * 20 + [1] * 40
    r = batch_outcome_association(b, y)
    assert r.associated and r.p_value < 1e-6 and 0 < r.cramers_v < 1
    none = batch_outcome_association(b, [0, 1] * 60)
    assert not none.associated and none.statistic == pytest.approx(0.0)
    with pytest.warns(SmallSampleWarning):
        batch_outcome_association(["a"] * 4 + ["b"] * 4 + ["c"] * 4, [0, 1, 0, 0] * 3)
    with pytest.raises(InputError, match="same length|one label per row"):
        batch_outcome_association(b[:-1], y)
    with pytest.raises(InputError, match="binary"):
        batch_outcome_association(b, [2] * 120)


def test_separability_input_errors() -> None:
    with pytest.raises(InputError, match="at least two batches"):
        batch_separability(X, np.full(len(BATCH), "A"))
    with pytest.raises(InputError, match="NaN"):
        batch_separability(np.full((4, 2), np.nan), ["a", "a", "b", "b"])
