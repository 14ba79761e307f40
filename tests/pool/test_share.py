"""share.json construction, suppression and schema checks; pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from pathlib import Path

import numpy as np
import pytest

from radval.exceptions import ContractError, InputError
from radval.pool import pseudonymise
from radval.pool.share import build_share, check_share, read_share, write_share

ROOT = Path(__file__).resolve().parents[2]


def _data(rng: np.random.Generator, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    lp = rng.normal(-0.5, 1.2, size=n)
    p = 1 / (1 + np.exp(-lp))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.3 + 0.8 * lp)))).astype(int)
    return y, p


def test_share_values_match_oracles(rng: np.random.Generator) -> None:
    y, p = _data(rng)
    # the values themselves (disclosure control off); with it on, see test_disclosure
    doc = build_share(y, p, site="siteA", cutoff=0.4, thresholds=[0.1, 0.3],
                      allow_small_cells=True)
    assert doc["n"] == 200 and doc["events"] == int(y.sum())
    # AUC: O(n^2) Mann-Whitney oracle
    pos, neg = p[y == 1], p[y == 0]
    diff = pos[:, None] - neg[None, :]
    auc = ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size
    d = doc["discrimination"]
    assert d["auc"] == pytest.approx(auc, rel=1e-12)
    assert d["logit_auc"] == pytest.approx(math.log(auc / (1 - auc)), rel=1e-12)
    assert d["logit_auc_se"] == pytest.approx(d["auc_se"] / (auc * (1 - auc)), rel=1e-12)
    # DeLong variance from the placement values (DeLong 1988), brute force
    v10 = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean(axis=1)
    v01 = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean(axis=0)
    var = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    assert d["auc_se"] == pytest.approx(math.sqrt(var), rel=1e-10)
    c = doc["calibration"]
    o, e = y.sum(), p.sum()
    assert c["o_e"] == pytest.approx(o / e, rel=1e-12)
    assert c["log_o_e_se"] == pytest.approx(math.sqrt((1 - o / 200) / o), rel=1e-12)
    assert c["o_e_se"] == pytest.approx(o / e * math.sqrt((1 - o / 200) / o), rel=1e-12)
    assert c["brier"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)
    tm = doc["threshold_metrics"]
    pred = p >= 0.4
    assert tm["tp"] == int((pred & (y == 1)).sum())
    assert tm["fp"] == int((pred & (y == 0)).sum())
    assert tm["sensitivity"] == pytest.approx(tm["tp"] / (tm["tp"] + tm["fn"]))
    nb = {r["threshold"]: r["net_benefit"] for r in doc["net_benefit"]}
    for t in (0.1, 0.3):
        tp = ((p >= t) & (y == 1)).sum()
        fp = ((p >= t) & (y == 0)).sum()
        assert nb[t] == pytest.approx(tp / 200 - fp / 200 * t / (1 - t), rel=1e-12)
    assert doc["suppression"] == {"min_cell": 5, "allowed": True, "suppressed": []}
    json.dumps(doc, allow_nan=False)
    # disclosure control on: 3 events have risk < 0.1, so the net benefit at 0.1 (and only
    # it) is withheld; everything else is the same
    assert int(((p < 0.1) & (y == 1)).sum()) == 3
    controlled = build_share(y, p, site="siteA", cutoff=0.4, thresholds=[0.1, 0.3])
    assert controlled["suppression"]["suppressed"] == ["net_benefit[0].net_benefit",
                                                      "net_benefit[0].net_benefit_se"]
    assert controlled["net_benefit"][0]["net_benefit"] is None
    for key in ("discrimination", "calibration", "threshold_metrics", "n", "events"):
        assert controlled[key] == doc[key]
    assert controlled["net_benefit"][1] == doc["net_benefit"][1]


def test_small_cells_suppressed_unless_allowed(rng: np.random.Generator) -> None:
    y, p = _data(rng, 60)
    cut = float(np.sort(p)[-3])  # only 3 predicted positive: small cells
    doc = build_share(y, p, site="s1", cutoff=cut)
    tm = doc["threshold_metrics"]
    assert all(tm[k] is None for k in ("tp", "fp", "tn", "fn", "sensitivity", "ppv"))
    assert "threshold_metrics.tp" in doc["suppression"]["suppressed"]
    allowed = build_share(y, p, site="s1", cutoff=cut, allow_small_cells=True)
    assert allowed["threshold_metrics"]["tp"] is not None
    assert allowed["suppression"]["allowed"] is True
    # fewer than 5 events: every value that depends on the outcome is withheld
    y2 = np.zeros(60, dtype=int)
    y2[:3] = 1
    doc2 = build_share(y2, p, site="s1", cutoff=0.5)
    assert doc2["events"] is None and doc2["calibration"]["o_e"] is None
    assert all(v is None for v in doc2["discrimination"].values())
    assert all(v is None for v in doc2["calibration"].values())
    assert all(r["net_benefit"] is None and r["treat_all"] is None
               for r in doc2["net_benefit"])
    assert doc2["n"] == 60


def test_free_text_refused(rng: np.random.Generator) -> None:
    y, p = _data(rng, 50)
    for bad in ["St Mary's Hospital", "a/b", "", "x" * 41]:
        with pytest.raises(InputError, match="site"):
            build_share(y, p, site=bad, cutoff=0.5)
    with pytest.raises(InputError, match="outcome"):
        build_share(y, p, site="ok", cutoff=0.5, outcome="lymph node status")


def test_check_share_rejects_extra_fields(rng: np.random.Generator, tmp_path: Path) -> None:
    y, p = _data(rng, 80)
    doc = build_share(y, p, site="s1", cutoff=0.5)
    path = write_share(tmp_path / "share.json", doc)
    assert read_share(path) == json.loads(path.read_text())
    leaky = json.loads(path.read_text())
    leaky["patients"] = ["p1", "p2"]
    with pytest.raises(ContractError, match="patients: unknown field"):
        check_share(leaky)
    leaky = json.loads(path.read_text())
    leaky["calibration"]["notes"] = "free text"
    with pytest.raises(ContractError, match="calibration.notes: unknown field"):
        check_share(leaky)
    leaky = json.loads(path.read_text())
    leaky["n"] = "200"
    with pytest.raises(ContractError, match=r"share.json .*n: Input should be a valid integer"):
        check_share(leaky)
    leaky = json.loads(path.read_text())
    leaky["site"] = "Hospital of St. Mary, ward 3"
    with pytest.raises(ContractError, match="site: String should match pattern"):
        check_share(leaky)


def test_pseudonymise_is_keyed_hmac() -> None:
    key = b"0123456789abcdef-secret"
    out = pseudonymise(["p1", "p2", "p1"], key, site="siteB")
    assert out[0] == out[2] and out[0] != out[1]
    expected = hmac.new(key, b"p1", hashlib.sha256).hexdigest()[:16]
    assert out[0] == f"siteB-{expected}"
    # a different key gives unrelated pseudonyms; the plain hash is not used
    other = pseudonymise(["p1"], b"another-secret-key-000", site="siteB")
    assert other[0] != out[0]
    assert hashlib.sha256(b"p1").hexdigest()[:16] not in out[0]
    with pytest.raises(InputError, match="key"):
        pseudonymise(["p1"], "short")
    with pytest.raises(InputError, match="site"):
        pseudonymise(["p1"], key, site="a b")


def test_layout_1_share_is_refused_with_the_reason(rng: np.random.Generator,
                                                    tmp_path: Path) -> None:
    """Share files of radval < 0.2 (layout 1) could be undone by arithmetic: refused."""
    y, p = _data(rng, 80)
    doc = build_share(y, p, site="s1", cutoff=0.5)
    doc["schema_version"] = "1"
    for f in doc["shift"]["features"]:
        f["share_out_of_range"] = f.pop("share_outside_q05_q95")
    path = tmp_path / "old_share.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ContractError, match=r"radval < 0\.2 \(share layout 1\)"):
        read_share(path)
    # any other broken file keeps the field-naming message
    doc["schema_version"] = "7"
    path.write_text(json.dumps(doc))
    with pytest.raises(ContractError, match="schema_version"):
        read_share(path)
