"""Bundle signing: `radval keygen`, `radval sign`, `radval validate --trusted-key`."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import stat
import subprocess
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radval.cli import main
from radval.exceptions import BundleSignatureError, InputError, RadvalWarning
from radval.models._signing import SIG_FILE, generate_keypair, sign_bundle
from radval.models.bundle import load_bundle, write_bundle
from tests.models.test_signature import make_signature

pytest.importorskip("cryptography")
OPENSSL = shutil.which("openssl")


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    folder = tmp_path / "keys"
    assert main(["keygen", "--out", str(folder)]) == 0
    return folder


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(11)
    n = 120
    feats = pd.DataFrame({"patient_id": [f"x{i:03d}" for i in range(n)], "cohort": "hospB",
                          "radiomics_a": rng.normal(1.0, 0.5, n),
                          "radiomics_b": rng.normal(2.0, 1.5, n),
                          "deep_0": rng.normal(0.0, 1.0, n)})
    lp = make_signature(deep=None).predict(feats)["linear_predictor"].to_numpy()
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(lp - lp.mean())))).astype(int)
    feats.to_csv(tmp_path / "features.csv", index=False)
    pd.DataFrame({"patient_id": feats["patient_id"], "ln_metastasis": y}).to_csv(
        tmp_path / "clinical.csv", index=False)
    return tmp_path / "features.csv", tmp_path / "clinical.csv"


def _validate(bundle: Path, site: tuple[Path, Path], out: Path, *extra: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        return main(["validate", str(bundle), "--features", str(site[0]), "--clinical",
                     str(site[1]), "--out", str(out), "--bootstrap", "0", *extra])


def _rehash(root: Path) -> None:
    names = sorted(p.name for p in root.iterdir() if p.name not in ("SHA256SUMS", SIG_FILE))
    (root / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256((root / n).read_bytes()).hexdigest()}  {n}\n" for n in names))


def test_keygen_writes_a_private_key_only_its_owner_reads(
        keys: Path, capsys: pytest.CaptureFixture[str]) -> None:
    priv, pub = keys / "radval-signing.key", keys / "radval-signing.pub"
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert priv.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert sorted(p.name for p in keys.iterdir()) == ["radval-signing.key", "radval-signing.pub"]
    # never overwritten
    assert main(["keygen", "--out", str(keys)]) == 65
    assert main(["keygen", "--out", str(keys), "--name", "../x"]) == 65
    capsys.readouterr()
    assert main(["keygen", "--out", str(keys), "--name", "second", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    from cryptography.hazmat.primitives import serialization as ser

    raw = ser.load_pem_public_key((keys / "second.pub").read_bytes()).public_bytes(
        ser.Encoding.Raw, ser.PublicFormat.Raw)
    assert summary["fingerprint_sha256"] == hashlib.sha256(raw).hexdigest()
    assert summary["public_key_base64"] == base64.b64encode(raw).decode()


@pytest.mark.parametrize("as_zip", [False, True])
def test_signed_bundle_verifies_with_its_key(tmp_path: Path, keys: Path, as_zip: bool,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bundle = write_bundle(tmp_path / "bundle", make_signature(deep=None), zip=as_zip)
    assert main(["sign", str(bundle), "--key", str(keys / "radval-signing.key")]) == 0
    out = capsys.readouterr().out
    b = load_bundle(bundle, trusted_key=keys / "radval-signing.pub")
    assert b.origin.verified and b.origin.key_fingerprint in out
    if as_zip:
        with zipfile.ZipFile(bundle) as zf:
            assert SIG_FILE in zf.namelist()
    # unsigned-looking without a key: still loads, origin unverified, signature claimed
    b2 = load_bundle(bundle)
    assert not b2.origin.verified and b2.origin.signed
    assert b2.origin.claimed_fingerprint == b.origin.key_fingerprint


@pytest.mark.skipif(OPENSSL is None, reason="openssl not installed")
def test_signature_verifies_with_openssl(tmp_path: Path, keys: Path) -> None:
    """The detached signature is plain Ed25519 over SHA256SUMS: any tool can check it."""
    bundle = write_bundle(tmp_path / "bundle", make_signature(deep=None))
    sign_bundle(bundle, private_key=keys / "radval-signing.key")
    doc = json.loads((bundle / SIG_FILE).read_text())
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(doc["signature"]))

    def verify(sums: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey",
                               str(keys / "radval-signing.pub"), "-rawin", "-in", str(sums),
                               "-sigfile", str(tmp_path / "sig.bin")],
                              capture_output=True, text=True, check=False)

    assert verify(bundle / "SHA256SUMS").returncode == 0
    (tmp_path / "other").write_text((bundle / "SHA256SUMS").read_text() + "\n")
    assert verify(tmp_path / "other").returncode != 0


def test_validate_refuses_unsigned_foreign_and_changed_bundles(
        tmp_path: Path, keys: Path, site: tuple[Path, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    pub = keys / "radval-signing.pub"
    bundle = write_bundle(tmp_path / "bundle", make_signature(deep=None))
    key_args = ("--trusted-key", str(pub))

    def refused(out: str, needle: str) -> None:
        assert _validate(bundle, site, tmp_path / out, *key_args, "--no-report") == 65
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
        assert not (tmp_path / out).exists()  # refused before anything was written

    refused("o1", "is not signed")
    # signed by another team's key
    generate_keypair(tmp_path / "other", name="other")
    sign_bundle(bundle, private_key=tmp_path / "other" / "other.key")
    refused("o2", "signed by another key")
    sign_bundle(bundle, private_key=keys / "radval-signing.key")
    assert _validate(bundle, site, tmp_path / "ok", *key_args, "--no-report") == 0
    capsys.readouterr()
    # a file changed after signing, SHA256SUMS recomputed: the signature no longer matches
    doc = json.loads((bundle / "signature.json").read_text())
    doc["cutoff"] = 0.05
    (bundle / "signature.json").write_text(json.dumps(doc))
    _rehash(bundle)
    refused("o3", "changed after signing")
    # changed without recomputing: the checksum catches it
    sign_bundle(bundle, private_key=keys / "radval-signing.key")
    (bundle / "radval_version").write_text("9.9.9\n")
    assert _validate(bundle, site, tmp_path / "o4", *key_args, "--no-report") == 65
    assert "radval_version has been modified" in capsys.readouterr().err
    # a garbled signature file
    _rehash(bundle)
    (bundle / SIG_FILE).write_text("{}")
    refused("o5", "not a valid radval Ed25519 signature")


def test_without_trusted_key_the_origin_is_reported_unverified(
        tmp_path: Path, site: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    bundle = write_bundle(tmp_path / "bundle", make_signature(deep=None), zip=True)
    assert _validate(bundle, site, tmp_path / "out", "--json", "--formats", "none") == 0
    cap = capsys.readouterr()
    assert "origin is unverified" in cap.err
    summary = json.loads(cap.out)["summary"]
    assert summary["bundle_origin"]["verified"] is False
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["bundle"]["origin"]["verified"] is False
    assert any(w["code"] == "BUNDLE_ORIGIN_UNVERIFIED" for w in res["warnings"])
    qmd = (tmp_path / "out" / "report" / "report.qmd").read_text()
    assert "The origin of the bundle is unverified." in qmd


def test_verified_origin_is_recorded(tmp_path: Path, keys: Path, site: tuple[Path, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    bundle = write_bundle(tmp_path / "bundle", make_signature(deep=None), zip=True)
    _, fp = sign_bundle(bundle, private_key=keys / "radval-signing.key")
    assert _validate(bundle, site, tmp_path / "out", "--json", "--formats", "none",
                     "--trusted-key", str(keys / "radval-signing.pub")) == 0
    cap = capsys.readouterr()
    assert "unverified" not in cap.err
    assert json.loads(cap.out)["summary"]["bundle_origin"]["key_fingerprint"] == fp
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["bundle"]["origin"] == {"verified": True, "signed": True, "key_fingerprint": fp,
                                       "claimed_fingerprint": fp,
                                       "message": res["bundle"]["origin"]["message"]}
    assert not any(w["code"] == "BUNDLE_ORIGIN_UNVERIFIED" for w in res["warnings"])
    assert fp[:16] in (tmp_path / "out" / "report" / "report.qmd").read_text()


def test_raw_base64_keys_and_wrong_key_kinds(tmp_path: Path, keys: Path) -> None:
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ec

    from radval.models._signing import load_private_key, load_public_key

    priv = load_private_key(keys / "radval-signing.key")
    seed = priv.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
    raw_pub = priv.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    (tmp_path / "seed.b64").write_text(base64.b64encode(seed).decode() + "\n")
    (tmp_path / "pub.b64").write_text(base64.b64encode(raw_pub).decode() + "\n")
    bundle = write_bundle(tmp_path / "bundle", make_signature(deep=None))
    sign_bundle(bundle, private_key=tmp_path / "seed.b64")
    assert load_bundle(bundle, trusted_key=tmp_path / "pub.b64").origin.verified
    assert load_bundle(bundle, trusted_key=keys / "radval-signing.pub").origin.verified
    with pytest.raises(InputError, match="holds a PRIVATE key"):
        load_public_key(keys / "radval-signing.key")
    with pytest.raises(InputError, match="holds a public key"):
        load_private_key(keys / "radval-signing.pub")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.pub").write_bytes(ec_key.public_key().public_bytes(
        ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(InputError, match="not an Ed25519 key"):
        load_public_key(tmp_path / "ec.pub")
    (tmp_path / "junk").write_text("hello")
    with pytest.raises(InputError, match="neither a PEM Ed25519 key nor a base64"):
        load_public_key(tmp_path / "junk")
    with pytest.raises(BundleSignatureError, match="not signed"):
        load_bundle(write_bundle(tmp_path / "unsigned", make_signature(deep=None)),
                    trusted_key=tmp_path / "pub.b64")


def test_private_key_is_never_written_anywhere_else(tmp_path: Path, keys: Path,
                                                    site: tuple[Path, Path]) -> None:
    from cryptography.hazmat.primitives import serialization as ser

    from radval.models._signing import load_private_key

    priv = load_private_key(keys / "radval-signing.key")
    seed = priv.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
    pem = (keys / "radval-signing.key").read_bytes()
    body = b"".join(pem.splitlines()[1:-1])
    bundle = write_bundle(tmp_path / "bundle", make_signature(deep=None), zip=True)
    sign_bundle(bundle, private_key=keys / "radval-signing.key")
    assert _validate(bundle, site, tmp_path / "out", "--formats", "none",
                     "--trusted-key", str(keys / "radval-signing.pub")) == 0
    for f in tmp_path.rglob("*"):
        if f.is_file() and f != keys / "radval-signing.key":
            data = f.read_bytes()
            for secret in (seed, base64.b64encode(seed), body):
                assert secret not in data, f


def test_rewriting_a_bundle_drops_a_stale_signature(tmp_path: Path, keys: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle", make_signature(deep=None))
    sign_bundle(bundle, private_key=keys / "radval-signing.key")
    write_bundle(bundle, make_signature(deep=None, cutoff=0.2))
    assert not (bundle / SIG_FILE).exists()
    with pytest.raises(BundleSignatureError, match="not signed"):
        load_bundle(bundle, trusted_key=keys / "radval-signing.pub")
