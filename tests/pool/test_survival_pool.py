"""Pooling the sites' time-to-event discrimination (radval.pool._survival_pool)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radval.exceptions import RadvalWarning
from radval.pool import meta_analysis
from radval.pool.pooling import pool_shares
from radval.pool.share import build_share, write_share

HORIZONS = [12.0, 24.0]


def _site(rng: np.random.Generator, n: int, strength: float, events_frac: float = 0.6
          ) -> dict[str, Any]:
    s = rng.normal(size=n)
    te = rng.exponential(25 * np.exp(-strength * s))
    tc = rng.uniform(5, 70, size=n)
    t, e = np.minimum(te, tc).round(1), (te <= tc).astype(float)
    keep = rng.random(n) < events_frac
    e = e * keep
    risk = 1 - np.array([0.75, 0.55])[None, :] ** np.exp(strength * s)[:, None]
    return {"time": t, "event": e, "marker": s, "risk": risk, "horizons": HORIZONS,
            "time_unit": "months", "model": "cox"}


def _write(tmp_path: Path, name: str, surv: dict[str, Any] | None,
           rng: np.random.Generator) -> Path:
    n = 80 if surv is None else surv["time"].size
    y = (rng.random(n) < 0.4).astype(int)
    p = np.clip(0.25 + 0.3 * y + rng.normal(scale=0.15, size=n), 0.01, 0.99)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        doc = build_share(y, p, site=name, cutoff=0.4, signature_sha256="cd" * 32,
                          survival=surv)
    return write_share(tmp_path / f"share_{name}.json", doc)


def test_c_and_auc_are_pooled_on_the_logit_scale(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    paths = [_write(tmp_path, f"site{i}", _site(rng, n, st), rng)
             for i, (n, st) in enumerate([(120, 0.8), (90, 0.5), (150, 0.6)])]
    tiny = _site(rng, 60, 0.6, events_frac=0.05)  # about 2 events: everything withheld
    paths.append(_write(tmp_path, "tiny", tiny, rng))
    out = pool_shares(paths, out=tmp_path / "pooled", report_formats=())
    surv = out["survival"]
    shares = [json.loads(p.read_text()) for p in paths]
    assert shares[3]["survival"]["c_harrell"] is None  # the small site withheld it
    for name, key in (("c_harrell", "c_harrell"), ("c_uno", "c_uno")):
        est = np.array([s["survival"][key] for s in shares[:3]])
        se = np.array([s["survival"][f"{key}_se"] for s in shares[:3]])
        ref = meta_analysis(est, se**2, transform="logit")
        got = surv["measures"][name]
        assert got["k"] == 3 and got["excluded"] == ["tiny"] and got["suppressed"] == ["tiny"]
        assert got["result"]["pooled_natural"] == pytest.approx(ref.pooled_natural, rel=1e-12)
        assert got["result"]["ci_low_natural"] == pytest.approx(ref.ci_low_natural, rel=1e-12)
        assert got["result"]["i2"] == pytest.approx(ref.i2, rel=1e-9, abs=1e-12)
    for k, h in enumerate(HORIZONS):
        m = surv["measures"][f"auc_{h:g}"]
        rows = [s["survival"]["horizons"][k] for s in shares if s["survival"]["horizons"][k]
                ["auc"] is not None]
        assert m["k"] == len(rows) and m["horizon"] == h
        if len(rows) >= 2:
            ref = meta_analysis([r["auc"] for r in rows], [r["auc_se"] ** 2 for r in rows],
                                transform="logit")
            assert m["result"]["pooled_natural"] == pytest.approx(ref.pooled_natural,
                                                                  rel=1e-12)
    qmd = (tmp_path / "pooled" / "report" / "pooled.qmd").read_text()
    assert "{#sec-survival-pooled}" in qmd and "{#tbl-survival-pooled}" in qmd
    assert "tiny (withheld by the site\\: small cells)" in qmd
    assert (tmp_path / "pooled" / "figures" / "forest_survival_c_harrell.png").is_file()
    assert "fig-forest-survival-c-harrell" in qmd
    assert (tmp_path / "pooled" / "pooled_survival_sites.csv").is_file()
    pooled = json.loads((tmp_path / "pooled" / "pooled.json").read_text())
    assert pooled["survival"]["measures"]["c_harrell"]["k"] == 3


def test_shares_without_follow_up_pool_as_before(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    paths = [_write(tmp_path, f"s{i}", None, rng) for i in range(2)]
    out = pool_shares(paths, out=tmp_path / "p", figures=False, report_formats=())
    assert "survival" not in out
    assert "Time-to-event" not in (tmp_path / "p" / "report" / "pooled.qmd").read_text()
    # one site with follow-up: the measures need two sites
    paths.append(_write(tmp_path, "s9", _site(rng, 100, 0.7), rng))
    out = pool_shares(paths, out=tmp_path / "p2", figures=False, report_formats=())
    m = out["survival"]["measures"]["c_harrell"]
    assert m["result"] is None and m["k"] == 1 and m["excluded"] == ["s0", "s1"]
