"""Provenance: package versions, input hashes, seeds and atomic writes.

Every artifact radval writes records what produced it.  Hashes are SHA-256 of
file bytes; paths written into artifacts are always relative to a stated root
(absolute paths can identify patients).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from radval._results import jsonable
from radval.exceptions import OutputError, output_error

__all__ = [
    "DEFAULT_PACKAGES",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_output_dir",
    "package_versions",
    "provenance_record",
    "sha256_bytes",
    "sha256_file",
    "sha256_path",
    "utc_now",
]

DEFAULT_PACKAGES = (
    "radval", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "SimpleITK",
    "pyradiomics", "torch", "safetensors", "dask", "distributed", "matplotlib",
)


def utc_now() -> str:
    """Current UTC time, ISO 8601, second precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_path(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, or of a folder (sorted relative names and file hashes)."""
    p = Path(path)
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            h.update(f.relative_to(p).as_posix().encode())
            h.update(sha256_file(f).encode())
        return h.hexdigest()
    return sha256_file(p)


def package_versions(names: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (``None`` when not installed) plus Python."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def provenance_record(*, seed: int | None = None,
                      inputs: Mapping[str, str | os.PathLike[str]] | None = None,
                      extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A provenance block: versions, platform, seed, SHA-256 of named inputs.

    ``inputs`` maps a label (never an absolute path) to a file to hash.
    """
    rec: dict[str, Any] = {
        "created": utc_now(),
        "versions": package_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine(),
                     "python_implementation": sys.implementation.name},
        "seed": seed,
        "input_sha256": {k: sha256_path(v) for k, v in (inputs or {}).items()},
    }
    if extra:
        rec.update(dict(extra))
    return rec


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *,
                       durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then rename).

    ``durable=False`` skips the fsync: the file is still never half-written, but may be
    lost on a power failure.  Right for caches, whose entries are recomputed when absent.
    """
    p = Path(path)
    tmp = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        # mkstemp creates 0600 files; artifacts are meant to be shared like any other file.
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            # disk full, permission denied, read-only: one line naming the file (exit 73/74)
            raise output_error(exc, p) from exc
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str, *, durable: bool = True) -> None:
    """Write UTF-8 ``text`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2,
                      durable: bool = True) -> None:
    """Write ``obj`` as strict JSON (NaN -> null, sorted keys) atomically.

    ``indent=None`` writes one compact line with the C encoder of :mod:`json` (an indented
    document goes through its pure-Python encoder, about twice slower on large records).
    """
    text = json.dumps(jsonable(obj), indent=indent, sort_keys=True, allow_nan=False)
    atomic_write_text(path, text + "\n", durable=durable)


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """Make sure the output folder ``path`` can be written, without creating anything.

    Run before any work, so that a read-only or full output folder is reported at once
    instead of after an hour of extraction. A folder that does not exist yet is not created
    here (a command refused later, e.g. for a hostile bundle, must leave no trace): its
    nearest existing parent is tried instead. The probe is an unnamed temporary file, so no
    directory entry ever appears.

    Raises
    ------
    OutputError
        The folder (or its nearest existing parent) is a file or refuses a test file (exit
        code 73, or 74 when the disk is full); the message names the folder.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"output folder {p} is a file; give a folder (--out)",
                          filename=str(p))
    probe = p.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"output folder {p} cannot be created: {probe.name} is a file",
                          filename=str(p))
    try:
        with tempfile.TemporaryFile(prefix=".radval-write-test.", dir=probe) as fh:
            fh.write(b"x")
            fh.flush()
    except OutputError:
        raise
    except OSError as exc:
        raise output_error(exc, p) from exc
    return p
