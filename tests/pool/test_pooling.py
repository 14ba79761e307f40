"""radval pool on hand-made share files (fast; the slow end-to-end test uses real sites)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from radval.cli import main
from radval.exceptions import DataError
from radval.pool import meta_analysis
from radval.pool.pooling import pool_shares
from radval.pool.share import build_share, write_share

SIG = "ab" * 32


def _shares(tmp_path: Path, rng: np.random.Generator, k: int = 4) -> list[Path]:
    paths = []
    for i in range(k):
        n = 150 + 20 * i
        lp = rng.normal(-0.6, 1.0 + 0.1 * i, size=n)
        p = 1 / (1 + np.exp(-lp))
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.2 * i + 0.9 * lp)))).astype(int)
        doc = build_share(y, p, site=f"site{i}", cutoff=0.35, signature_sha256=SIG)
        paths.append(write_share(tmp_path / f"share_{i}.json", doc))
    return paths


def test_pool_matches_meta_analysis(tmp_path: Path, rng: np.random.Generator) -> None:
    paths = _shares(tmp_path, rng)
    docs = [json.loads(p.read_text()) for p in paths]
    out = pool_shares(paths, out=tmp_path / "pooled", figures=False, report_formats=())
    r = out["measures"]["o_e"]["result"]
    direct = meta_analysis([d["calibration"]["log_o_e"] for d in docs],
                           [d["calibration"]["log_o_e_se"] ** 2 for d in docs])
    assert r["pooled"] == pytest.approx(direct.pooled, rel=1e-10)
    assert r["pooled_natural"] == pytest.approx(np.exp(direct.pooled), rel=1e-10)
    s = out["measures"]["calibration_slope"]["result"]
    direct = meta_analysis([d["calibration"]["slope"] for d in docs],
                           [d["calibration"]["slope_se"] ** 2 for d in docs], method="REML")
    assert s["pooled"] == pytest.approx(direct.pooled, rel=1e-10)
    assert s["tau2"] == pytest.approx(direct.tau2, rel=1e-8, abs=1e-12)
    assert (tmp_path / "pooled" / "pooled.json").is_file()
    assert (tmp_path / "pooled" / "report" / "pooled.qmd").is_file()


def test_pool_cli_with_forest_plots(tmp_path: Path, rng: np.random.Generator,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    paths = _shares(tmp_path, rng, k=3)
    code = main(["pool", *map(str, paths), "--out", str(tmp_path / "p"), "--method", "DL",
                 "--hksj", "--formats", "none", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["auc"]["k"] == 3
    for m in ("auc", "calibration_slope", "citl", "o_e"):
        assert (tmp_path / "p" / "figures" / f"forest_{m}.png").is_file()
    pooled = json.loads((tmp_path / "p" / "pooled.json").read_text())
    assert pooled["method"] == "DL" and pooled["hksj"] is True


def test_pool_refuses_mixed_or_duplicate(tmp_path: Path, rng: np.random.Generator) -> None:
    paths = _shares(tmp_path, rng, k=2)
    doc = json.loads(paths[1].read_text())
    doc["signature_sha256"] = "cd" * 32
    other = write_share(tmp_path / "other.json", doc)
    with pytest.raises(DataError, match="different signatures"):
        pool_shares([paths[0], other], out=tmp_path / "x", figures=False, report_formats=())
    with pytest.raises(DataError, match="site0"):
        pool_shares([paths[0], paths[0]], out=tmp_path / "x", figures=False,
                    report_formats=())
    code = main(["pool", str(paths[0]), str(other), "--out", str(tmp_path / "y"),
                 "--formats", "none"])
    assert code == 65
