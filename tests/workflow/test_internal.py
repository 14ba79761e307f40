"""Harrell optimism when a feature extractor is itself fitted on the outcome.

A network trained on the development cohort memorises it: its features carry the
outcome of the very patients it was trained on and nothing for anybody else.  Taking
those features as given hides that optimism (the corrected AUC stays near 1 although the
features are pure noise for new patients); training the extractor again in every
resample (``deep_refit``) exposes it.  The extractor here is a stand-in with that exact
behaviour, so the test is deterministic and needs no torch; the real network goes through
the same code path in test_pipeline_e2e.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from radval.workflow import (
    fit_models,
    optimism_bootstrap,
    predictions_table,
    prepare_data,
    run_selection,
    study_from_dict,
)

N_FEATURES = 4


def _memorised(ids: np.ndarray, labels: dict[str, int], trained_on: set[str],
               rng: np.random.Generator) -> np.ndarray:
    """deep_0 = outcome + noise for patients the extractor was trained on, noise otherwise."""
    x = rng.normal(size=(len(ids), N_FEATURES))
    for i, pid in enumerate(ids):
        if pid in trained_on:
            x[i, 0] += 3.0 * labels[pid]
    return x


class MemorisingRefit:
    """Duck-typed :class:`radval.features.deep_refit.DeepRefit` that memorises its training set."""

    def __init__(self, ids: list[str]) -> None:
        self.rows = pd.DataFrame({"patient_id": ids, "reader": "1"})
        self.calls = 0

    def first_reader_rows(self, patients: Any) -> np.ndarray:
        pos = {p: i for i, p in enumerate(self.rows["patient_id"])}
        return np.array([pos[str(p)] for p in patients], dtype=np.intp)

    def features(self, patients: Any, labels: Any, *, seed: int) -> pd.DataFrame:
        self.calls += 1
        lab = {str(p): int(v) for p, v in zip(patients, labels, strict=True)}
        ids = self.rows["patient_id"].to_numpy()
        x = _memorised(ids, lab, set(lab), np.random.default_rng(seed))
        out = pd.concat([self.rows.reset_index(drop=True),
                         pd.DataFrame(x, columns=[f"deep_{k}" for k in range(N_FEATURES)])],
                        axis=1)
        out.attrs["training"] = {"seconds_total": 0.0, "apparent_auc": 1.0, "n": len(lab)}
        return out


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, pd.DataFrame]:
    rng = np.random.default_rng(8)
    ids = [f"d{i:03d}" for i in range(80)]
    y = {p: int(v) for p, v in zip(ids, rng.random(80) < 0.4, strict=True)}
    vids = [f"v{i:03d}" for i in range(40)]
    yv = {p: int(v) for p, v in zip(vids, rng.random(40) < 0.4, strict=True)}
    # the final network was trained on every development patient (not on validation)
    xd = _memorised(np.array(ids), y, set(ids), rng)
    xv = _memorised(np.array(vids), yv, set(), rng)
    feats = pd.DataFrame(np.vstack([xd, xv]), columns=[f"deep_{k}" for k in range(N_FEATURES)])
    feats.insert(0, "cohort", ["dev"] * 80 + ["val"] * 40)
    feats.insert(0, "reader", "1")
    feats.insert(0, "patient_id", ids + vids)
    clin = pd.DataFrame({"patient_id": ids + vids, "cohort": feats["cohort"],
                         "outcome": [y[p] for p in ids] + [yv[p] for p in vids]})
    root = Path(tmp_path_factory.mktemp("leaky"))
    clin.to_csv(root / "clinical.csv", index=False)
    study = study_from_dict({
        "name": "leaky", "outcome": {"column": "outcome"}, "clinical": "clinical.csv",
        "features": "features.parquet", "radiomics": {"enabled": False},
        "deep": {"enabled": True},
        "cohorts": [{"name": "dev", "role": "development"},
                    {"name": "val", "role": "external_validation"}],
        "selection": {"n_folds": 5, "lasso_rule": "min"},
        "models": {"clinical": False, "nomogram": False, "combined": False},
        "evaluation": {"optimism": 40}, "seed": 5}, base_dir=root)
    data = prepare_data(study, feats, clinical=clin)
    sel = run_selection(study, data)
    assert "deep_0" in sel["deep"]["selected"]
    preds = predictions_table(study, data, fit_models(study, data, sel))
    return study, data, preds


def _auc_row(res: dict[str, Any]) -> pd.Series:
    t = res.table
    return t[(t.model == "deep") & (t.metric == "auc")].iloc[0]


def test_memorised_features_hide_the_optimism_unless_retrained(
        leaky: tuple[Any, Any, pd.DataFrame]) -> None:
    study, data, preds = leaky
    dev_ids = data.patients.index[data.cohort_mask("dev")].astype(str).tolist()
    fixed = optimism_bootstrap(study, data, n_resamples=40, preds=preds, jobs=1)
    refit = MemorisingRefit(dev_ids)
    retrained = optimism_bootstrap(study, data, n_resamples=40, preds=preds, jobs=1,
                                   deep_refit=refit)
    assert refit.calls == 40                              # one extractor per resample
    f, r = _auc_row(fixed), _auc_row(retrained)
    assert f.apparent == r.apparent > 0.95
    # taken as given, the memorised features look as good on "new" data as on old ones
    assert f.corrected > 0.9
    # trained again, the ~37% of patients left out of each resample expose the memorising
    assert r.optimism > f.optimism + 0.1
    assert r.corrected < f.corrected - 0.1
    # what was refitted is recorded; deep_k is not the same feature across resamples
    assert any("deep network" in s for s in retrained.refitted)
    assert not any("deep network" in s for s in fixed.refitted)
    assert retrained.deep_training["n_networks"] == 40
    assert retrained.selection_frequency.empty
    assert not fixed.selection_frequency.empty
    # the size of each resample's selection, recounted from the frequencies of the fixed run
    freq = fixed.selection_frequency
    size = fixed.selection_size.set_index("family")
    assert size.loc["deep", "mean"] == pytest.approx(freq["count"].sum() / 40, rel=1e-12)


def test_external_validation_confirms_the_retrained_correction(
        leaky: tuple[Any, Any, pd.DataFrame]) -> None:
    """The validation cohort (features = noise) shows where the truth lies."""
    from radval import stats

    study, data, preds = leaky
    pv = preds[(preds.cohort == "val") & (preds.model == "deep")]
    auc_val = stats.roc_auc(pv.y_true, pv.probability)
    dev_ids = data.patients.index[data.cohort_mask("dev")].astype(str).tolist()
    fixed = _auc_row(optimism_bootstrap(study, data, n_resamples=40, preds=preds, jobs=1))
    retrained = _auc_row(optimism_bootstrap(study, data, n_resamples=40, preds=preds, jobs=1,
                                            deep_refit=MemorisingRefit(dev_ids)))
    assert auc_val < 0.7
    assert abs(retrained.corrected - auc_val) < abs(fixed.corrected - auc_val)


def test_resample_cv_folds_group_the_copies_of_a_patient(
        leaky: tuple[Any, Any, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    from radval.workflow import _selection as pipeline

    study, data, preds = leaky
    seen: list[tuple[list[str], Any]] = []
    original = pipeline._select_family

    def spy(family: str, x: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        seen.append((list(x.index), kwargs.get("groups", args[4] if len(args) > 4 else None)))
        return original(family, x, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_select_family", spy)
    optimism_bootstrap(study, data, n_resamples=3, preds=preds, jobs=1)
    assert len(seen) == 3
    for rows, groups in seen:
        assert groups is not None and len(groups) == len(rows)
        # row "d012#7" is a copy of patient d012
        assert [r.split("#")[0] for r in rows] == list(groups)
        assert len(set(groups)) < len(groups)


def test_results_do_not_depend_on_the_chunks_or_the_workers(
        leaky: tuple[Any, Any, pd.DataFrame]) -> None:
    # each resample has its own seed: one chunk, the default chunks and two worker
    # processes give the same tables to the bit
    study, data, preds = leaky
    runs = [optimism_bootstrap(study, data, n_resamples=12, preds=preds, jobs=1, n_chunks=1),
            optimism_bootstrap(study, data, n_resamples=12, preds=preds, jobs=1),
            optimism_bootstrap(study, data, n_resamples=12, preds=preds, jobs=2)]
    for other in runs[1:]:
        assert other.n_resamples == runs[0].n_resamples == 12
        pd.testing.assert_frame_equal(other.table, runs[0].table, check_exact=True)
        pd.testing.assert_frame_equal(other.prediction_instability,
                                      runs[0].prediction_instability, check_exact=True)
        pd.testing.assert_frame_equal(other.selection_frequency,
                                      runs[0].selection_frequency, check_exact=True)


def test_the_callers_work_runs_while_the_workers_run_the_resamples(
        leaky: tuple[Any, Any, pd.DataFrame]) -> None:
    """``meanwhile`` (radval evaluate: the final models' evaluation) runs in a thread of
    this process while worker processes run the resamples, first when they run here; the
    tables do not change, and its error is raised once the resamples are done."""
    import threading

    study, data, preds = leaky
    where: list[str] = []

    def work() -> None:
        where.append(threading.current_thread().name)

    with_workers = optimism_bootstrap(study, data, n_resamples=6, preds=preds, jobs=2,
                                      meanwhile=work)
    here = optimism_bootstrap(study, data, n_resamples=6, preds=preds, jobs=1,
                              meanwhile=work)
    assert where == ["radval-meanwhile", threading.current_thread().name]
    pd.testing.assert_frame_equal(with_workers.table, here.table, check_exact=True)

    def fails() -> None:
        raise ValueError("the evaluation failed")

    with pytest.raises(ValueError, match="the evaluation failed"):
        optimism_bootstrap(study, data, n_resamples=4, preds=preds, jobs=2, meanwhile=fails)
