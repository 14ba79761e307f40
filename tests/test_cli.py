"""The command line: help with examples, usage errors, exit codes, --json."""

from __future__ import annotations

import errno
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from radval import cli
from radval.exceptions import (
    EXIT_CANTCREAT,
    EXIT_DATAERR,
    EXIT_IOERR,
    EXIT_NOINPUT,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
)


def test_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out
    assert "Exit codes" in out


def test_unknown_command_is_usage_error() -> None:
    assert cli.main(["no-such-command"]) == EXIT_USAGE
    assert cli.main([]) == EXIT_USAGE


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_subcommand_has_help_with_example(name: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example:" in out
    assert f"radval {name}" in out
    assert "--json" in out
    assert "not implemented" not in out


def test_missing_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["extract"]) == EXIT_USAGE


def test_missing_input_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["extract", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o"),
                     "--json"])
    assert code == EXIT_NOINPUT
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    assert payload["exit_code"] == EXIT_NOINPUT
    assert "nope.csv" in payload["errors"][0]["message"]


# ---------------------------------------------------------------------------------------
# Errors a person can act on, no absolute path in any output (issue 15, items 6, 12, 13)
# ---------------------------------------------------------------------------------------


def _study(root: Path, n: int = 4, *, damaged: bool = True) -> Path:
    """Tiny CT cases (two cohorts) and a manifest; with ``damaged``, p001's image is cut in
    half and p002's is not an image at all (SimpleITK names it by its absolute path)."""
    pytest.importorskip("SimpleITK")
    from tests.features.conftest import write_case

    rows = []
    for i in range(n):
        img, msk = write_case(root / "images", f"p{i:03d}", seed=200 + i)
        rows.append({"patient_id": f"p{i:03d}", "cohort": "dev" if i < n - 1 else "ext",
                     "image": f"images/{img}", "mask": f"images/{msk}"})
    if damaged:
        p1 = root / "images" / "p001.nii.gz"
        p1.write_bytes(p1.read_bytes()[: p1.stat().st_size // 2])
        (root / "images" / "p002.nii.gz").write_bytes(b"not an image")
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


def _clean(text: str, *forbidden: Path) -> None:
    for f in forbidden:
        assert str(f) not in text, f"absolute path {f} in output:\n{text}"
        assert str(f.resolve()) not in text


def test_no_absolute_path_in_any_output(tmp_path: Path,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("radiomics")
    from tests.features.conftest import LIGHT_PARAMS

    manifest = _study(tmp_path / "study")
    params = tmp_path / "light.yaml"
    params.write_text(LIGHT_PARAMS)
    out = tmp_path / "out"
    runs = [["check", str(manifest), "--jobs", "1", "--failures", str(tmp_path / "f.csv")],
            ["check", str(manifest), "--jobs", "1", "--json"],
            ["extract", str(manifest), "--out", str(out), "--params", str(params),
             "--jobs", "2"],
            ["extract", str(manifest), "--out", str(out), "--params", str(params),
             "--jobs", "1", "--json"]]
    for argv in runs:
        assert cli.main(argv) == EXIT_PARTIAL
        got = capfd.readouterr()
        _clean(got.out + got.err, tmp_path)
        if "--json" in argv:
            doc = json.loads(got.out)
            reasons = {e["patient_id"]: e["reason"] for e in doc["errors"]}
            assert "damaged file" in reasons["p001"]
            assert 'ImageIO reader for "images/p002.nii.gz"' in reasons["p002"]
    for f in [tmp_path / "f.csv", *out.glob("*.csv"), *out.glob("*.json")]:
        _clean(f.read_text(), tmp_path)
    fails = pd.read_csv(out / "failures.csv")
    assert fails["patient_id"].tolist() == ["p001", "p002"]
    assert set(fails["stage"]) == {"read"}
    assert pd.read_parquet(out / "features.parquet")["patient_id"].tolist() == ["p000", "p003"]
    # an error message with an absolute path (a missing study file) is cleaned too
    assert cli.main(["run", str(tmp_path / "nowhere" / "study.yaml")]) == EXIT_NOINPUT
    got = capfd.readouterr()
    _clean(got.out + got.err, tmp_path)
    assert "study.yaml" in got.err


def _one_error_line(err: str, *needles: str) -> None:
    """stderr holds one error line naming what it should, and no traceback."""
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if " ERROR " in ln]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def _study_file(root: Path, manifest: Path, clinical: Path) -> Path:
    doc = {"name": "t", "outcome": {"column": "y", "positive_label": 1},
           "manifest": os.path.relpath(manifest, root), "clinical": os.path.relpath(clinical, root),
           "cohorts": [{"name": "dev", "role": "development"},
                       {"name": "ext", "role": "external_validation"}],
           "evaluation": {"bootstrap_ci": 0, "optimism": 0}}
    import yaml

    (root / "study.yaml").write_text(yaml.safe_dump(doc))
    return root / "study.yaml"


@pytest.mark.parametrize(("content", "needles"), [
    ("patient_id,cohort,y\np\xe9,dev,1\n".encode("latin-1"),
     ["clinical.csv", "not UTF-8", "line 2"]),
    (b"", ["clinical.csv", "is empty"]),
    (b"patient_id,cohort,y\n", ["clinical.csv", "header but no rows"]),
])
def test_bad_clinical_table_is_one_line(tmp_path: Path, content: bytes, needles: list[str],
                                        capfd: pytest.CaptureFixture[str]) -> None:
    manifest = _study(tmp_path / "data", 3, damaged=False)
    clinical = tmp_path / "data" / "clinical.csv"
    clinical.write_bytes(content)
    study = _study_file(tmp_path, manifest, clinical)
    assert cli.main(["run", str(study), "--out", str(tmp_path / "o")]) == EXIT_DATAERR
    _one_error_line(capfd.readouterr().err, *needles)
    # radval check on the study file says the same (with the image checks)
    assert cli.main(["check", str(study), "--jobs", "1", "-q"]) == EXIT_DATAERR
    out = capfd.readouterr().out
    assert any(n in out for n in needles[1:])


def test_header_only_manifest_in_run(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("patient_id,cohort,image,mask\n")
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient_id,cohort,y\np1,dev,1\np2,dev,0\n")
    study = _study_file(tmp_path, manifest, clinical)
    assert cli.main(["run", str(study), "--out", str(tmp_path / "o")]) == EXIT_DATAERR
    _one_error_line(capfd.readouterr().err, "manifest manifest.csv", "header but no rows")
    for argv in (["check", str(manifest)], ["extract", str(manifest), "--out",
                                             str(tmp_path / "o2")]):
        assert cli.main(argv) == EXIT_DATAERR
        _one_error_line(capfd.readouterr().err, "manifest.csv", "header but no rows")


def _bundle(tmp_path: Path) -> Path:
    from radval.models.bundle import write_bundle
    from tests.models.test_signature import make_signature

    return write_bundle(tmp_path / "bundle", make_signature(deep=None))


def _site_tables(tmp_path: Path, n: int = 40) -> tuple[Path, Path]:
    rng = np.random.default_rng(7)
    feats = pd.DataFrame({"patient_id": [f"x{i:02d}" for i in range(n)],
                          "radiomics_a": rng.normal(1.0, 0.5, n),
                          "radiomics_b": rng.normal(2.0, 1.5, n)})
    clin = pd.DataFrame({"patient_id": feats["patient_id"], "ln_metastasis": rng.integers(0, 2, n)})
    feats.to_csv(tmp_path / "features.csv", index=False)
    clin.to_csv(tmp_path / "clinical.csv", index=False)
    return tmp_path / "features.csv", tmp_path / "clinical.csv"


def test_text_in_a_numeric_features_column(tmp_path: Path,
                                           capfd: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path)
    feats, clin = _site_tables(tmp_path)
    df = pd.read_csv(feats)
    df["radiomics_b"] = df["radiomics_b"].astype(object)
    df.loc[5, "radiomics_b"] = "n/a (failed)"
    df.to_csv(feats, index=False)
    code = cli.main(["validate", str(bundle), "--features", str(feats), "--clinical", str(clin),
                     "--out", str(tmp_path / "o"), "--no-report", "--bootstrap", "0"])
    assert code == EXIT_DATAERR
    _one_error_line(capfd.readouterr().err, "features.csv", "'radiomics_b'",
                    "file line 7")


def test_deeply_nested_share_file_in_pool(tmp_path: Path,
                                          capfd: pytest.CaptureFixture[str]) -> None:
    from tests.pool.test_pooling import _shares

    shares = _shares(tmp_path, np.random.default_rng(3), k=2)
    bomb = tmp_path / "share_bomb.json"
    bomb.write_text("[" * 100_000 + "]" * 100_000)
    code = cli.main(["pool", *map(str, shares), str(bomb), "--out", str(tmp_path / "p"),
                     "--formats", "none"])
    assert code == EXIT_DATAERR
    _one_error_line(capfd.readouterr().err, "share_bomb.json", "nested too deeply")


def test_pool_prints_a_summary(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from tests.pool.test_pooling import _shares

    shares = _shares(tmp_path, np.random.default_rng(3), k=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = cli.main(["pool", *map(str, shares), "--out", str(tmp_path / "p"),
                         "--formats", "none"])
    assert code == EXIT_OK
    out = capfd.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("pooled 3 site(s)") and "pooled AUC" in out[0]
    assert cli.main(["pool", *map(str, shares), "--out", str(tmp_path / "p"),
                     "--formats", "none", "-q"]) == EXIT_OK
    assert capfd.readouterr().out == ""


def test_read_only_output_folder(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = _study(tmp_path / "study", 2, damaged=False)
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:  # a real read-only folder (root may write anyway)
        ro.chmod(0o555)
        try:
            assert cli.main(["extract", str(manifest), "--out", str(ro / "o")]) \
                == EXIT_CANTCREAT
        finally:
            ro.chmod(0o755)
        _one_error_line(capfd.readouterr().err, "cannot write", "permission denied")
    import tempfile

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system", str(ro / "x"))

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    assert cli.main(["extract", str(manifest), "--out", str(ro)]) == EXIT_CANTCREAT
    err = capfd.readouterr().err
    _one_error_line(err, "cannot write ro", "read-only file system", "--out")
    _clean(err, tmp_path)
    assert not list(ro.iterdir())  # nothing was done


def test_disk_full_names_the_file(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import radval._provenance as prov

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    manifest = _study(tmp_path / "study", 2, damaged=False)
    clinical = tmp_path / "study" / "clinical.csv"
    clinical.write_text("patient_id,cohort,y\np000,dev,1\np001,ext,0\n")
    (tmp_path / "study.yaml").write_text("old\n")
    monkeypatch.setattr(prov.os, "fsync", full)
    code = cli.main(["init", "--manifest", str(manifest), "--clinical", str(clinical),
                     "--out", str(tmp_path / "study.yaml"), "--force"])
    assert code == EXIT_IOERR
    err = capfd.readouterr().err
    _one_error_line(err, "disk full", "study.yaml")
    _clean(err, tmp_path)
    assert (tmp_path / "study.yaml").read_text() == "old\n"  # the old file is intact
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".study")] == []
    # the same for an OSError raised anywhere else (not through radval's writers)
    from radval.exceptions import exit_code_for

    assert exit_code_for(OSError(errno.ENOSPC, "No space left on device")) == EXIT_IOERR
    assert exit_code_for(PermissionError(errno.EACCES, "Permission denied")) == EXIT_CANTCREAT


# ---- options -------------------------------------------------------------------------------


def test_every_numeric_option_is_range_checked() -> None:
    from radval._commands._args import NumberType

    parser = cli.build_parser()
    subs = parser.parse_args(["check", "x"])._subparsers
    bare = [(name, a.option_strings) for name, sub in subs.items() for a in sub._actions
            if a.type in (int, float)]
    assert bare == []  # every int/float option uses a range type
    typed = [a for sub in subs.values() for a in sub._actions if isinstance(a.type, NumberType)]
    assert len(typed) >= 10


@pytest.mark.parametrize("argv", [
    ["validate", "b", "--features", "f.csv", "--clinical", "c.csv", "--out", "o",
     "--bootstrap", "-5"],
    ["validate", "b", "--features", "f.csv", "--clinical", "c.csv", "--out", "o",
     "--seed", "-1"],
    ["extract", "m.csv", "--out", "o", "--jobs", "0"],
    ["check", "m.csv", "--min-voxels", "0"],
    ["check", "m.csv", "--jobs", "two"],
    ["run", "s.yaml", "--jobs", "-2"],
    ["synth", "--out", "o", "--site", "s3:10:no_such_profile"],
    ["synth", "--out", "o", "--site", "s3:-4:ge_thick"],
    ["synth", "--out", "o", "--n-patients", "3"],
    ["check", "m.csv", "--modality", "US"],
])
def test_bad_numbers_are_usage_errors_naming_the_option(
        argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    option = next(a for a in reversed(argv) if a.startswith("--"))
    assert f"argument {option}" in err
    for internal in ("map_cases", "generate_study", "pseudonymise", "parameter of"):
        assert internal not in err
    assert not Path("o").exists()


def test_library_parameter_messages_speak_of_options(
        tmp_path: Path, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from radval._validation import param_error
    from radval.features import extract as extract_mod

    def bad(*_a: Any, **_k: Any) -> Any:
        raise param_error("jobs", "map_cases", "an integer >= 1 or None", 0)

    manifest = _study(tmp_path / "s", 2, damaged=False)
    monkeypatch.setattr(extract_mod, "check_manifest", bad)
    assert cli.main(["check", str(manifest), "--json"]) == EXIT_DATAERR
    got = capfd.readouterr()
    assert "map_cases" not in got.out + got.err
    assert json.loads(got.out)["errors"][0]["message"] == \
        "--jobs must be an integer >= 1 or None (got 0)."


def test_short_key_refused_before_anything_is_written(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path)
    feats, clin = _site_tables(tmp_path)
    (tmp_path / "key.txt").write_text("short\n")
    out = tmp_path / "o"
    code = cli.main(["validate", str(bundle), "--features", str(feats), "--clinical", str(clin),
                     "--out", str(out), "--no-report", "--bootstrap", "0",
                     "--pseudonym-key-file", str(tmp_path / "key.txt")])
    assert code == EXIT_DATAERR
    _one_error_line(capfd.readouterr().err, "--pseudonym-key-file key.txt", "5 byte(s)",
                    "at least 16 bytes")
    assert not (out / "share.json").exists() and not (out / "results.json").exists()
    # a folder given as the key file is called a folder, not missing
    code = cli.main(["validate", str(bundle), "--features", str(feats), "--clinical", str(clin),
                     "--out", str(out), "--pseudonym-key-file", str(tmp_path)])
    assert code == EXIT_DATAERR
    _one_error_line(capfd.readouterr().err, "is a folder")


@pytest.mark.parametrize("argv", [["run", "{d}"], ["pool", "{d}", "{d}", "--out", "{o}"],
                                  ["validate", "b", "--features", "f.csv", "--clinical", "{d}",
                                   "--out", "{o}"]])
def test_a_folder_is_not_called_missing(argv: list[str], tmp_path: Path,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "ext"
    d.mkdir()
    if argv[0] == "validate":
        argv = [*argv, "--site", "s"]
        argv[1] = str(_bundle(tmp_path))
        (tmp_path / "f.csv").write_text("patient_id\nx\n")
        argv[3] = str(tmp_path / "f.csv")
    argv = [a.format(d=d, o=tmp_path / "o") for a in argv]
    assert cli.main(argv) == EXIT_DATAERR
    err = capfd.readouterr().err
    _one_error_line(err, "ext is a folder")
    assert "does not exist" not in err and "not found" not in err


_WARN_SCRIPT = """
import sys, warnings
import radval._commands.pool as pool_cmd
from radval.exceptions import DatasetShiftWarning

def run(args):
    warnings.warn("the site's features differ\\nfrom development", DatasetShiftWarning)
    return 0, {}

pool_cmd.run = run
from radval.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("quiet", [False, True])
def test_warnings_are_one_line_and_silent_with_q(tmp_path: Path, quiet: bool) -> None:
    import subprocess
    import sys

    src = str(Path(__file__).resolve().parents[1] / "src")
    argv = ["pool", "a.json", "--out", str(tmp_path / "o"), *(["-q"] if quiet else [])]
    res = subprocess.run([sys.executable, "-c", _WARN_SCRIPT, *argv], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": src}, timeout=120)
    assert res.returncode == 0, res.stderr
    expected = "" if quiet else "warning: the site's features differ from development\n"
    assert res.stderr == expected
