"""Signature bundle: a folder (or .zip) that carries a frozen signature between sites.

Layout (every file listed in ``SHA256SUMS``, nothing else allowed)::

    signature.json          the Signature (radval.models.signature), JSON
    radiomics_params.yaml   the PyRadiomics parameter file the features were extracted with
    deep.safetensors        deep-network weights (safetensors only: nothing is unpickled)
    radval_version          the radval version that wrote the bundle
    SHA256SUMS              ``sha256sum`` format: "<hex>  <name>" per file
    SHA256SUMS.sig          optional: Ed25519 signature of SHA256SUMS
                            (:mod:`radval.models._signing`, ``radval sign``)

:func:`load_bundle` verifies, in this order: a .zip is checked entry by entry and
extracted within size limits (:mod:`radval.models._safezip`: names, types,
duplicates, declared and streamed sizes, compression ratio) into the system
temporary folder; a folder may hold only regular bundle files within the same size
limits; the checksum file exists and is well formed; with a trusted public key, the
signature of ``SHA256SUMS`` verifies (else the origin is reported as unverified); no
listed file is missing and no unlisted file is present; every SHA-256 matches;
``signature.json`` is JSON with a supported ``schema_version`` and follows its definition
(:class:`radval.contracts.SignatureFile`, documented in ``data-dictionary/signature.yaml``); the
parameter file and the weights match the hashes recorded inside the signature; the
weights file has a valid safetensors header.  Any failure raises
:class:`~radval.exceptions.BundleError` naming the file.  Verify with
``sha256sum -c SHA256SUMS`` by hand as well.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radval._provenance import atomic_write_text, sha256_bytes, sha256_file
from radval.exceptions import BundleError, ContractError, MissingInputError
from radval.models._safezip import ZipLimits, extract_flat_zip
from radval.models._signing import SIG_FILE, BundleOrigin, check_origin
from radval.models.signature import SUPPORTED_SCHEMA_VERSIONS, Signature

__all__ = [
    "BUNDLE_FILES",
    "BUNDLE_LIMITS",
    "Bundle",
    "load_bundle",
    "validate_signature_json",
    "write_bundle",
]

SIGNATURE_FILE = "signature.json"
PARAMS_FILE = "radiomics_params.yaml"
WEIGHTS_FILE = "deep.safetensors"
VERSION_FILE = "radval_version"
SUMS_FILE = "SHA256SUMS"
#: Files a bundle may contain (besides ``SHA256SUMS`` and ``SHA256SUMS.sig``).
BUNDLE_FILES: tuple[str, ...] = (SIGNATURE_FILE, PARAMS_FILE, WEIGHTS_FILE, VERSION_FILE)

_MiB = 1 << 20
#: Size limits of a bundle (folder or .zip), far above any real bundle: the largest
#: file is the network weights (a ResNet-50 is ~100 MB).  A .zip is also refused
#: when an entry over 1 MiB expands more than 100-fold (JSON compresses ~5-fold,
#: float weights barely), the signature of a zip bomb.
BUNDLE_LIMITS = ZipLimits(
    max_file_bytes={SIGNATURE_FILE: 64 * _MiB, PARAMS_FILE: 1 * _MiB,
                    WEIGHTS_FILE: 1024 * _MiB, VERSION_FILE: 1024, SUMS_FILE: 4096,
                    SIG_FILE: 4096},
    max_total_bytes=1100 * _MiB, max_ratio=100.0, ratio_floor_bytes=1 * _MiB)

def validate_signature_json(obj: Any) -> None:
    """Check a parsed ``signature.json`` against its definition
    (:class:`radval.contracts.SignatureFile`).

    Raises
    ------
    BundleError
        Naming every offending field (path inside the document and rule).
    """
    from radval.contracts._signature import SignatureFile

    try:
        SignatureFile.from_data(obj)
    except ContractError as exc:
        raise BundleError(str(exc)) from None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Bundle:
    """A verified bundle.

    Attributes
    ----------
    signature : Signature
    root : Path
        Folder holding the verified files (a temporary folder for a .zip).
    deep_weights_path : Path or None
        ``root / "deep.safetensors"`` when the bundle has deep weights.
    radiomics_params_path : Path or None
    radval_version : str
        Version that wrote the bundle.
    sha256 : dict
        File name -> SHA-256 as verified.
    origin : BundleOrigin
        Whether the Ed25519 signature was verified with a trusted key
        (:mod:`radval.models._signing`); unverified unless ``load_bundle`` got one.
    """

    signature: Signature
    root: Path
    deep_weights_path: Path | None
    radiomics_params_path: Path | None = None
    radval_version: str = ""
    sha256: dict[str, str] = dataclasses.field(default_factory=dict)
    origin: BundleOrigin = dataclasses.field(default_factory=lambda: BundleOrigin(
        verified=False, signed=False, key_fingerprint=None, claimed_fingerprint=None,
        message="the bundle's origin is unverified"))

    @property
    def radiomics_params_text(self) -> str | None:
        """Text of the PyRadiomics parameter file (from the signature)."""
        rad = self.signature.radiomics
        return None if rad is None else str(rad["params_yaml"])


def _check_safetensors(path: Path) -> None:
    """Validate the safetensors framing: u64 header length + JSON header + data."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise BundleError(f"{path.name}: not a safetensors file (truncated header).")
        (n,) = struct.unpack("<Q", head)
        if n == 0 or n > min(size - 8, 100 << 20):
            raise BundleError(f"{path.name}: not a safetensors file (bad header length).")
        try:
            header = json.loads(fh.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{path.name}: not a safetensors file (header is not JSON).") \
                from exc
    if not isinstance(header, dict):
        raise BundleError(f"{path.name}: not a safetensors file (header is not an object).")
    data_len = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not 0 <= offsets[0] <= offsets[1] <= data_len):
            raise BundleError(f"{path.name}: tensor {name!r} has invalid data offsets.")


def write_bundle(out_dir: str | os.PathLike[str], signature: Signature, *,
                 deep_weights: str | os.PathLike[str] | None = None,
                 deep_config: dict[str, Any] | None = None, zip: bool = False) -> Path:
    """Write a signature bundle.

    Parameters
    ----------
    out_dir : path
        Bundle folder (created; bundle files already there are replaced; any other
        file is an error, so that a bundle never carries unlisted files).
    signature : Signature
        The frozen signature.  Its ``radiomics.params_sha256`` and
        ``deep.weights_sha256`` are (re)computed from the files written.
    deep_weights : path, optional
        A ``.safetensors`` file, copied to ``deep.safetensors``.
    deep_config : dict, optional
        Network configuration stored in ``signature.deep["config"]`` (overrides).
    zip : bool, default False
        Also write ``<out_dir>.zip`` (flat, the same files) and return its path.

    Returns
    -------
    Path
        The folder, or the .zip when ``zip=True``.
    """
    from radval import __version__

    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise BundleError(f"write_bundle: {root} exists and is not a folder.")
    root.mkdir(parents=True, exist_ok=True)
    # a stale signature of a previous bundle is removed with the other files
    allowed = {*BUNDLE_FILES, SUMS_FILE, SIG_FILE}
    unknown = sorted(p.name for p in root.iterdir() if p.name not in allowed)
    if unknown:
        raise BundleError(f"write_bundle: {root} holds files that are not part of a bundle: "
                          f"{', '.join(unknown)}; use an empty folder.")
    for name in allowed:
        (root / name).unlink(missing_ok=True)

    deep = dict(signature.deep) if signature.deep is not None else None
    if deep_weights is not None:
        src = Path(deep_weights)
        if not src.is_file():
            raise MissingInputError(f"write_bundle: deep weights file {src} does not exist.")
        _check_safetensors(src)
        shutil.copyfile(src, root / WEIGHTS_FILE)
        deep = deep or {"config": {}}
        deep["weights_file"] = WEIGHTS_FILE
        deep["weights_sha256"] = sha256_file(root / WEIGHTS_FILE)
    elif deep is not None and deep.get("weights_file"):
        raise BundleError("write_bundle: the signature names deep weights but deep_weights "
                          "was not given.")
    if deep_config is not None:
        deep = deep or {"weights_file": None, "weights_sha256": None}
        deep["config"] = dict(deep_config)
    if deep is not None:
        cfg = deep.get("config") or {}
        if (isinstance(cfg, Mapping) and cfg.get("normalisation") == "window_zscore"
                and "normalisation_constants" not in cfg):
            # bare DeepConfig fields lose the z-scoring constants learnt in training: a site
            # would compute different deep features from the same weights
            raise BundleError("write_bundle: the deep config uses normalisation "
                              "'window_zscore' but carries no normalisation_constants; store "
                              "DeepModel.metadata() as the deep config.")
        deep.setdefault("config", {})
        deep.setdefault("weights_file", None)
        deep.setdefault("weights_sha256", None)

    radiomics = dict(signature.radiomics) if signature.radiomics is not None else None
    if radiomics is not None:
        text = str(radiomics.get("params_yaml", ""))
        radiomics["params_yaml"] = text
        radiomics["params_sha256"] = sha256_bytes(text.encode("utf-8"))
        atomic_write_text(root / PARAMS_FILE, text)

    sig = dataclasses.replace(signature, deep=deep, radiomics=radiomics)
    doc = sig.to_dict()
    validate_signature_json(doc)
    text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    atomic_write_text(root / SIGNATURE_FILE, text)
    atomic_write_text(root / VERSION_FILE, f"{__version__}\n")

    names = sorted(p.name for p in root.iterdir() if p.name in BUNDLE_FILES)
    sums = "".join(f"{sha256_file(root / n)}  {n}\n" for n in names)
    atomic_write_text(root / SUMS_FILE, sums)
    if not zip:
        return root
    zpath = root.with_name(root.name + ".zip")
    tmp = zpath.with_name(f".{zpath.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n in [*names, SUMS_FILE]:
            info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (root / n).read_bytes())
    os.replace(tmp, zpath)
    return zpath


_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *]([^/\\]+)$")


def _extract_zip(path: Path) -> Path:
    import atexit

    dest = extract_flat_zip(path, limits=BUNDLE_LIMITS)
    # the verified copy lives until the interpreter exits (Bundle.root points to it)
    atexit.register(shutil.rmtree, dest, ignore_errors=True)
    return dest


def _check_folder(p: Path) -> None:
    """A bundle folder holds only regular bundle files within the size limits."""
    limits = BUNDLE_LIMITS.max_file_bytes
    for q in sorted(p.iterdir()):
        mode = q.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise BundleError(f"bundle {p}: {q.name} is a symbolic link; a bundle holds "
                              "regular files only.")
        if not stat.S_ISREG(mode):
            raise BundleError(f"bundle {p}: {q.name} is not a regular file.")
        cap = limits.get(q.name)
        if cap is not None and q.stat().st_size > cap:
            raise BundleError(f"bundle {p}: {q.name} is {q.stat().st_size} bytes; it may hold "
                              f"at most {cap}.")


def load_bundle(path: str | os.PathLike[str], *,
                trusted_key: str | os.PathLike[str] | None = None) -> Bundle:
    """Load and verify a signature bundle (folder or .zip).

    Parameters
    ----------
    path : path
        Bundle folder or .zip.
    trusted_key : path, optional
        Public key file (PEM or base64 raw Ed25519) of the team that made the bundle.
        When given, the bundle must carry a valid signature by that key
        (``SHA256SUMS.sig``).  Without it the bundle is checked as before and
        :attr:`Bundle.origin` says that its origin is unverified.

    Raises
    ------
    MissingInputError
        ``path`` or ``trusted_key`` does not exist.
    BundleError
        Naming the file or zip entry that is missing, unexpected, modified, unsafe or
        invalid.
    BundleSignatureError
        With ``trusted_key``: the bundle is unsigned, signed by another key, or its
        ``SHA256SUMS`` changed after signing.
    """
    p = Path(path)
    if not p.exists():
        raise MissingInputError(f"bundle {p} does not exist.")
    if p.is_file():
        root = _extract_zip(p)
    else:
        root = p
        _check_folder(p)

    sums_path = root / SUMS_FILE
    if not sums_path.is_file():
        raise BundleError(f"bundle {p}: {SUMS_FILE} is missing; the bundle is incomplete.")
    sums_bytes = sums_path.read_bytes()
    sig_path = root / SIG_FILE
    origin = check_origin(sums_bytes, sig_path.read_bytes() if sig_path.is_file() else None,
                          trusted_key=trusted_key, where=f"bundle {p}")
    expected: dict[str, str] = {}
    for i, line in enumerate(sums_bytes.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        m = _SUM_LINE.match(line)
        if m is None or m.group(2) not in BUNDLE_FILES or m.group(2) in expected:
            raise BundleError(f"bundle {p}: {SUMS_FILE} line {i} is malformed or names an "
                              f"unexpected file: {line[:80]!r}.")
        expected[m.group(2)] = m.group(1)
    for required in (SIGNATURE_FILE, VERSION_FILE):
        if required not in expected:
            raise BundleError(f"bundle {p}: {SUMS_FILE} does not list {required}.")
    present = {q.name for q in root.iterdir()}
    for name in sorted(expected):
        if name not in present:
            raise BundleError(f"bundle {p}: {name} is missing (listed in {SUMS_FILE}).")
    extra = sorted(present - set(expected) - {SUMS_FILE, SIG_FILE})
    if extra:
        raise BundleError(f"bundle {p}: unexpected file(s) not listed in {SUMS_FILE}: "
                          f"{', '.join(extra)}.")
    for name, digest in sorted(expected.items()):
        f = root / name
        if not f.is_file():
            raise BundleError(f"bundle {p}: {name} is not a regular file.")
        actual = sha256_file(f)
        if actual != digest:
            raise BundleError(f"bundle {p}: {name} has been modified: its SHA-256 {actual[:12]}"
                              f"... does not match {SUMS_FILE} ({digest[:12]}...).")

    try:
        doc = json.loads((root / SIGNATURE_FILE).read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"bundle {p}: {SIGNATURE_FILE} is not valid JSON ({exc}).") from exc
    if not isinstance(doc, dict):
        raise BundleError(f"bundle {p}: {SIGNATURE_FILE} must hold a JSON object.")
    if str(doc.get("schema_version")) not in SUPPORTED_SCHEMA_VERSIONS:
        raise BundleError(f"bundle {p}: {SIGNATURE_FILE} has schema_version "
                          f"{doc.get('schema_version')!r}, which this radval "
                          f"(supports {', '.join(SUPPORTED_SCHEMA_VERSIONS)}) cannot read.")
    validate_signature_json(doc)
    signature = Signature.from_dict(doc)

    params_path: Path | None = None
    if signature.radiomics is not None:
        params_path = root / PARAMS_FILE
        if PARAMS_FILE not in expected:
            raise BundleError(f"bundle {p}: {PARAMS_FILE} is missing.")
        text = params_path.read_bytes()
        if (hashlib.sha256(text).hexdigest() != signature.radiomics["params_sha256"]
                or text.decode("utf-8") != signature.radiomics["params_yaml"]):
            raise BundleError(f"bundle {p}: {PARAMS_FILE} does not match the parameters "
                              f"recorded in {SIGNATURE_FILE}.")
    weights: Path | None = None
    deep = signature.deep
    if deep is not None and deep.get("weights_file"):
        if deep["weights_file"] != WEIGHTS_FILE or WEIGHTS_FILE not in expected:
            raise BundleError(f"bundle {p}: {WEIGHTS_FILE} is missing.")
        weights = root / WEIGHTS_FILE
        if expected[WEIGHTS_FILE] != deep.get("weights_sha256"):
            raise BundleError(f"bundle {p}: {WEIGHTS_FILE} does not match the weights hash "
                              f"recorded in {SIGNATURE_FILE}.")
        _check_safetensors(weights)
    elif WEIGHTS_FILE in expected:
        raise BundleError(f"bundle {p}: {WEIGHTS_FILE} is present but {SIGNATURE_FILE} does "
                          "not use deep weights.")
    version = (root / VERSION_FILE).read_text("utf-8").strip()
    return Bundle(signature=signature, root=root, deep_weights_path=weights,
                  radiomics_params_path=params_path, radval_version=version,
                  sha256=dict(expected), origin=origin)
