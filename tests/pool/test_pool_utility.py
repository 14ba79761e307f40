"""radval pool: net benefit with its SE, calibration intercept, FE, published validations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.cli import main
from radval.exceptions import InputError
from radval.pool import meta_analysis, published_validations
from radval.pool.pooling import pool_shares
from radval.pool.share import build_share, read_share, write_share

SIG = "cd" * 32


def _site(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    lp = rng.normal(-0.8, 1.1, size=n)
    p = 1 / (1 + np.exp(-lp))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(shift + 0.9 * lp)))).astype(int)
    return y, p


def _shares(tmp_path: Path, rng: np.random.Generator, k: int = 3,
            small_last: bool = False) -> list[Path]:
    paths = []
    for i in range(k):
        if small_last and i == k - 1:
            # 40 patients, 6 events: the 0.3 table has a small cell -> withheld
            y = np.r_[np.ones(6, int), np.zeros(34, int)]
            p = np.r_[np.linspace(0.2, 0.6, 6), np.linspace(0.02, 0.5, 34)]
        else:
            y, p = _site(rng, 160 + 30 * i, 0.15 * i)
        doc = build_share(y, p, site=f"site{i}", cutoff=0.35, thresholds=(0.1, 0.2, 0.3),
                          signature_sha256=SIG)
        paths.append(write_share(tmp_path / f"share_{i}.json", doc))
    return paths


def test_share_net_benefit_se_is_the_multinomial_se(rng: np.random.Generator) -> None:
    y, p = _site(rng, 200, 0.0)
    doc = build_share(y, p, site="a", cutoff=0.3, thresholds=(0.1, 0.25),
                      allow_small_cells=True)
    for e in doc["net_benefit"]:
        t = e["threshold"]
        treated = p >= t
        a = np.mean(treated & (y == 1))
        b = np.mean(treated & (y == 0))
        w = t / (1 - t)
        assert e["net_benefit"] == pytest.approx(a - w * b, rel=1e-12)
        # Var(a - w b) with multinomial counts, written out term by term
        var = (a * (1 - a) + w * w * b * (1 - b) - 2 * w * (-a * b)) / y.size
        assert e["net_benefit_se"] == pytest.approx(math.sqrt(var), rel=1e-12)


def test_share_withholds_the_se_with_the_net_benefit(tmp_path: Path,
                                                     rng: np.random.Generator) -> None:
    paths = _shares(tmp_path, rng, small_last=True)
    doc = read_share(paths[-1])
    sup = set(doc["suppression"]["suppressed"])
    withheld = [i for i, e in enumerate(doc["net_benefit"]) if e["net_benefit"] is None]
    assert withheld, "the small site must withhold a net benefit"
    for i in withheld:
        assert doc["net_benefit"][i]["net_benefit_se"] is None
        assert f"net_benefit[{i}].net_benefit_se" in sup


def test_pool_net_benefit_intercept_and_fe(tmp_path: Path, rng: np.random.Generator) -> None:
    paths = _shares(tmp_path, rng, k=4, small_last=True)
    docs = [json.loads(p.read_text()) for p in paths]
    out = pool_shares(paths, out=tmp_path / "pooled", figures=False, report_formats=(),
                      method="FE")
    # net benefit at 0.2: the sites that released it, identity scale, FE
    m = out["measures"]["net_benefit_0.2000"]
    rel = [(e["net_benefit"], e["net_benefit_se"]) for d in docs for e in d["net_benefit"]
           if abs(e["threshold"] - 0.2) < 1e-9 and e["net_benefit"] is not None]
    direct = meta_analysis([r[0] for r in rel], [r[1] ** 2 for r in rel], method="FE")
    assert m["k"] == len(rel)
    assert m["result"]["pooled"] == pytest.approx(direct.pooled, rel=1e-12)
    assert m["result"]["tau2"] == 0.0
    # the small site withheld the net benefit at some threshold: left out, and said so
    held = [f"net_benefit_{e['threshold']:.4f}" for e in docs[-1]["net_benefit"]
            if e["net_benefit"] is None]
    for name in held:
        assert "site3" in out["measures"][name]["suppressed"]
        notes = {r["site"]: r["note"] for r in out["measures"][name]["left_out"]}
        assert "withheld" in notes["site3"]
    qmd = (tmp_path / "pooled" / "report" / "pooled.qmd").read_text()
    assert "site3 (withheld by the site (small cells))" in qmd
    # the calibration intercept is pooled like the slope
    ci = out["measures"]["calibration_intercept"]["result"]
    direct = meta_analysis([d["calibration"]["intercept"] for d in docs],
                           [d["calibration"]["intercept_se"] ** 2 for d in docs], method="FE")
    assert ci["pooled"] == pytest.approx(direct.pooled, rel=1e-12)
    # chosen thresholds only
    out2 = pool_shares(paths, out=tmp_path / "p2", figures=False, report_formats=(),
                       nb_thresholds=[0.1])
    assert [k for k in out2["measures"] if k.startswith("net_benefit")] == \
        ["net_benefit_0.1000"]
    with pytest.raises(InputError, match="thresholds must be in"):
        pool_shares(paths, out=tmp_path / "p3", figures=False, report_formats=(),
                    nb_thresholds=[0.0])


def _published(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "published.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_pool_with_published_validations(tmp_path: Path, rng: np.random.Generator) -> None:
    paths = _shares(tmp_path, rng, k=2)
    docs = [json.loads(p.read_text()) for p in paths]
    rows = [{"study": "Smith 2020", "auc": 0.78, "auc_ci_low": 0.72, "auc_ci_high": 0.84},
            {"study": "Lee 2021", "auc": 0.71, "n": 240, "events": 60, "oe": 1.12,
             "oe_ci_low": 0.9, "oe_ci_high": 1.35},
            {"study": "Wu 2022", "observed": 41, "expected": 38.5, "n": 300}]
    table = _published(tmp_path, rows)
    out = pool_shares(paths, out=tmp_path / "pooled", report_formats=(), published=table)
    pub = published_validations(pd.DataFrame(rows))
    auc = out["measures"]["auc"]
    assert auc["k"] == 4
    # logit scale: the sites' delta-method SEs and the rebuilt published SEs
    est = [d["discrimination"]["logit_auc"] for d in docs] + \
        pub[pub.measure == "auc"].theta.tolist()
    se = [d["discrimination"]["logit_auc_se"] for d in docs] + \
        pub[pub.measure == "auc"].theta_se.tolist()
    direct = meta_analysis(est, np.square(se))
    assert auc["result"]["pooled"] == pytest.approx(direct.pooled, rel=1e-9)
    assert auc["result"]["tau2"] == pytest.approx(direct.tau2, rel=1e-7, abs=1e-12)
    oe = out["measures"]["o_e"]
    assert oe["k"] == 4
    est = [d["calibration"]["log_o_e"] for d in docs] + pub[pub.measure == "oe"].theta.tolist()
    se = [d["calibration"]["log_o_e_se"] for d in docs] + \
        pub[pub.measure == "oe"].theta_se.tolist()
    direct = meta_analysis(est, np.square(se))
    assert oe["result"]["pooled"] == pytest.approx(direct.pooled, rel=1e-9)
    sources = {r["site"]: r["source"] for r in oe["sites"]}
    assert sources["Wu 2022"] == "published (O, E and N)"
    assert sources["site0"] == "share.json"
    qmd = (tmp_path / "pooled" / "report" / "pooled.qmd").read_text()
    assert "Published validations" in qmd and "Smith 2020" in qmd
    assert (tmp_path / "pooled" / "figures" / "forest_auc.png").is_file()
    # one share file plus literature is enough for a meta-analysis
    one = pool_shares(paths[:1], out=tmp_path / "one", figures=False, report_formats=(),
                      published=table)
    assert one["measures"]["auc"]["k"] == 3


def test_published_ci_not_containing_estimate_names_the_study(
        tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _shares(tmp_path, rng, k=2)
    table = _published(tmp_path, [
        {"study": "Good 2020", "auc": 0.75, "auc_se": 0.03},
        {"study": "Typo 2019", "auc": 0.81, "auc_ci_low": 0.62, "auc_ci_high": 0.78}])
    with pytest.raises(InputError, match="Typo 2019"):
        pool_shares(paths, out=tmp_path / "x", figures=False, report_formats=(),
                    published=table)
    code = main(["pool", *map(str, paths), "--out", str(tmp_path / "y"), "--published",
                 str(table), "--formats", "none"])
    assert code == 65
    assert "Typo 2019" in capsys.readouterr().err
    bad = _published(tmp_path, [{"study": "A", "auc": 0.7, "auc_se": 0.1, "cstat": 1}])
    with pytest.raises(InputError, match="unknown column"):
        pool_shares(paths, out=tmp_path / "z", figures=False, report_formats=(),
                    published=bad)


def test_published_labels_are_escaped_in_the_report(tmp_path: Path,
                                                    rng: np.random.Generator) -> None:
    paths = _shares(tmp_path, rng, k=2)
    hostile = "<script>x</script> {{< include /etc/passwd >}} $\\alpha$"
    table = _published(tmp_path, [{"study": hostile, "auc": 0.7, "auc_se": 0.04}])
    out = pool_shares(paths, out=tmp_path / "p", report_formats=(), published=table)
    assert out["measures"]["auc"]["k"] == 3
    qmd = (tmp_path / "p" / "report" / "pooled.qmd").read_text()
    assert "<script>" not in qmd and "{{<" not in qmd


def test_pool_cli_fe_published_and_thresholds(tmp_path: Path, rng: np.random.Generator,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    paths = _shares(tmp_path, rng, k=2)
    table = _published(tmp_path, [{"study": "Smith 2020", "auc": 0.78, "auc_se": 0.03}])
    code = main(["pool", *map(str, paths), "--out", str(tmp_path / "p"), "--method", "FE",
                 "--published", str(table), "--nb-thresholds", "0.2", "--formats", "none",
                 "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["auc"]["k"] == 3
    assert summary["net_benefit_0.2000"]["k"] == 2
    assert main(["pool", *map(str, paths), "--out", str(tmp_path / "q"), "--nb-thresholds",
                 "0.2,x", "--formats", "none"]) == 65
