"""Tests of radval.models.bundle: write, verify, refuse tampered bundles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import BundleError, MissingInputError
from radval.models.bundle import (
    load_bundle,
    validate_signature_json,
    write_bundle,
)
from tests.models.test_signature import PARAMS, make_signature

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "w.safetensors"
    rng = np.random.default_rng(0)
    st.save_file({"fc.weight": rng.normal(size=(4, 3)).astype(np.float32)}, str(path))
    return path


def _write(tmp_path: Path, weights: Path, **kw: object) -> Path:
    sig = make_signature()
    return write_bundle(tmp_path / "bundle", sig, deep_weights=weights, **kw)  # type: ignore[arg-type]


def test_roundtrip_folder_and_zip(tmp_path: Path, weights: Path) -> None:
    root = _write(tmp_path, weights)
    names = sorted(p.name for p in root.iterdir())
    assert names == ["SHA256SUMS", "deep.safetensors", "radiomics_params.yaml", "radval_version",
                     "signature.json"]
    b = load_bundle(root)
    assert b.deep_weights_path == root / "deep.safetensors"
    assert b.deep_weights_path.read_bytes() == weights.read_bytes()
    assert b.radiomics_params_text == PARAMS
    assert (root / "radiomics_params.yaml").read_text() == PARAMS
    df = pd.DataFrame({"patient_id": ["a"], "radiomics_a": [1.0], "radiomics_b": [0.0],
                       "deep_0": [0.5]})
    pd.testing.assert_frame_equal(b.signature.predict(df), make_signature().predict(df))
    # SHA256SUMS is in `sha256sum -c` format
    import hashlib
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest
    z = write_bundle(tmp_path / "bundle", make_signature(), deep_weights=weights, zip=True)
    assert z.suffix == ".zip"
    bz = load_bundle(z)
    assert bz.signature == b.signature
    assert bz.deep_weights_path is not None
    assert bz.deep_weights_path.read_bytes() == weights.read_bytes()


def test_no_deep_weights(tmp_path: Path) -> None:
    sig = make_signature(deep=None)
    root = write_bundle(tmp_path / "b", sig)
    b = load_bundle(root)
    assert b.deep_weights_path is None
    assert not (root / "deep.safetensors").exists()


@pytest.mark.parametrize("target", ["signature.json", "deep.safetensors",
                                    "radiomics_params.yaml", "radval_version"])
def test_flipping_one_byte_is_refused(tmp_path: Path, weights: Path, target: str) -> None:
    root = _write(tmp_path, weights)
    f = root / target
    data = bytearray(f.read_bytes())
    pos = len(data) // 2
    data[pos] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=target.replace(".", r"\.")):
        load_bundle(root)


def test_tampered_zip_is_refused(tmp_path: Path, weights: Path) -> None:
    z = _write(tmp_path, weights, zip=True)
    import zipfile
    with zipfile.ZipFile(z) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    sig = json.loads(files["signature.json"])
    sig["cutoff"] = 0.2
    files["signature.json"] = json.dumps(sig).encode()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, d in files.items():
            zf.writestr(n, d)
    with pytest.raises(BundleError, match="signature.json"):
        load_bundle(bad)


def test_missing_and_extra_files_refused(tmp_path: Path, weights: Path) -> None:
    root = _write(tmp_path, weights)
    (root / "notes.txt").write_text("hello")
    with pytest.raises(BundleError, match="notes.txt"):
        load_bundle(root)
    (root / "notes.txt").unlink()
    (root / "deep.safetensors").unlink()
    with pytest.raises(BundleError, match="deep.safetensors is missing"):
        load_bundle(root)
    (root / "SHA256SUMS").unlink()
    with pytest.raises(BundleError, match="SHA256SUMS"):
        load_bundle(root)
    with pytest.raises(MissingInputError):
        load_bundle(tmp_path / "nowhere")


def test_consistent_rehash_still_checks_schema(tmp_path: Path, weights: Path) -> None:
    """A bundle edited and re-hashed must still pass the schema and version checks."""
    root = _write(tmp_path, weights)

    def rehash() -> None:
        import hashlib
        lines = [f"{hashlib.sha256((root / n).read_bytes()).hexdigest()}  {n}\n"
                 for n in sorted(p.name for p in root.iterdir() if p.name != "SHA256SUMS")]
        (root / "SHA256SUMS").write_text("".join(lines))

    doc = json.loads((root / "signature.json").read_text())
    doc["schema_version"] = "2"
    (root / "signature.json").write_text(json.dumps(doc))
    rehash()
    with pytest.raises(BundleError, match="schema_version"):
        load_bundle(root)
    doc["schema_version"] = "1"
    doc["cutoff"] = "high"
    (root / "signature.json").write_text(json.dumps(doc))
    rehash()
    with pytest.raises(BundleError,
                       match=r"signature.json .*cutoff: Input should be a number \(got .high.\)"):
        load_bundle(root)
    doc["cutoff"] = 0.35
    (root / "signature.json").write_text(json.dumps(doc))
    (root / "deep.safetensors").write_bytes(b"\x00" * 64)
    rehash()
    with pytest.raises(BundleError, match="deep.safetensors"):
        load_bundle(root)


def test_write_refuses_foreign_files(tmp_path: Path, weights: Path) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "model.pkl").write_bytes(b"x")
    with pytest.raises(BundleError, match="model.pkl"):
        write_bundle(out, make_signature(), deep_weights=weights)
    shutil.rmtree(out)
    # rewriting a bundle in place works
    write_bundle(out, make_signature(), deep_weights=weights)
    write_bundle(out, make_signature(), deep_weights=weights)
    load_bundle(out)


def test_schema_validator_reports_paths() -> None:
    doc = make_signature().to_dict()
    validate_signature_json(doc)
    doc["scores"]["rad_score"]["coef"] = ["x", 1.0]
    doc["development_summary"]["n"] = 0
    with pytest.raises(BundleError) as info:
        validate_signature_json(doc)
    msg = str(info.value)
    assert "scores.rad_score.coef[0]" in msg
    assert "development_summary.n" not in msg  # n=0 is a count, allowed by the definition


def test_zscore_config_without_constants_refused(tmp_path: Path, weights: Path) -> None:
    sig = make_signature(deep={"config": {"normalisation": "window_zscore"},
                               "weights_file": None, "weights_sha256": None})
    with pytest.raises(BundleError, match="normalisation_constants"):
        write_bundle(tmp_path / "b", sig, deep_weights=weights)
    ok = {"config": {"normalisation": "window_zscore"},
          "normalisation_constants": {"mean": 0.1, "sd": 0.9}}
    write_bundle(tmp_path / "c", make_signature(), deep_weights=weights, deep_config=ok)
    assert load_bundle(tmp_path / "c").signature.deep["config"] == ok  # type: ignore[index]
