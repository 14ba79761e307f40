"""Ed25519 signatures of signature bundles: who made the bundle, and that it is unchanged.

``SHA256SUMS`` lists the SHA-256 of every file of a bundle, so a changed file is
caught, but anyone can recompute it: checksums catch accidents, not intent.  The
developing team therefore signs ``SHA256SUMS`` with an Ed25519 private key that never
leaves the team (:func:`generate_keypair`, :func:`sign_bundle`), and publishes the
public key.  A validating site passes that public key to
:func:`radval.models.bundle.load_bundle` (``radval validate --trusted-key``), which
refuses a bundle that is unsigned, signed by another key, or whose ``SHA256SUMS``
changed after signing; since ``SHA256SUMS`` covers every file and no unlisted file is
accepted, a valid signature authenticates the whole bundle.

Files
-----
``SHA256SUMS.sig`` (in the bundle)
    JSON: ``{"format": "radval-bundle-signature", "version": 1, "algorithm":
    "Ed25519", "signed_file": "SHA256SUMS", "public_key_sha256": <hex>,
    "signature": <base64 of the 64-byte Ed25519 signature of the exact bytes of
    SHA256SUMS>}``.  ``public_key_sha256`` names the signing key for messages only;
    verification uses the trusted key alone.
Private key
    PEM, PKCS#8, unencrypted (``-----BEGIN PRIVATE KEY-----``), as written by
    :func:`generate_keypair` with mode 0600; or the raw 32-byte seed in base64 on
    one line.
Public key
    PEM, SubjectPublicKeyInfo (``-----BEGIN PUBLIC KEY-----``); or the raw 32-byte
    key in base64 on one line.  Its fingerprint is the SHA-256 (hex) of the raw
    32 bytes.

The ``cryptography`` package is imported inside the functions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radval.exceptions import BundleSignatureError, InputError, MissingInputError

__all__ = ["SIG_FILE", "BundleOrigin", "KeyPair", "check_origin", "generate_keypair",
           "load_private_key", "load_public_key", "public_key_fingerprint", "sign_bundle",
           "signature_document"]

logger = logging.getLogger(__name__)

#: Detached signature of ``SHA256SUMS`` inside a bundle.
SIG_FILE = "SHA256SUMS.sig"
_FORMAT = "radval-bundle-signature"
_MAX_KEY_BYTES = 16 << 10
_MAX_SIG_BYTES = 4 << 10


@dataclass(frozen=True, kw_only=True)
class BundleOrigin:
    """What is known about who made a bundle.

    Attributes
    ----------
    verified : bool
        The bundle's ``SHA256SUMS`` carries a valid signature by the trusted key.
    signed : bool
        The bundle holds a ``SHA256SUMS.sig`` (verified or not).
    key_fingerprint : str or None
        SHA-256 of the trusted public key that verified it.
    claimed_fingerprint : str or None
        Key named inside ``SHA256SUMS.sig`` (not verified unless ``verified``).
    message : str
        One plain sentence for logs and reports.
    """

    verified: bool
    signed: bool
    key_fingerprint: str | None
    claimed_fingerprint: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``results.json["bundle"]["origin"]``)."""
        return {"verified": self.verified, "signed": self.signed,
                "key_fingerprint": self.key_fingerprint,
                "claimed_fingerprint": self.claimed_fingerprint, "message": self.message}


@dataclass(frozen=True, kw_only=True)
class KeyPair:
    """Files written by :func:`generate_keypair`."""

    private_key: Path
    public_key: Path
    fingerprint: str
    public_key_base64: str


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InputError("bundle signing needs the 'cryptography' package: "
                         "pip install cryptography") from exc
    return ed25519


def _raw_public(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization as ser

    return bytes(key.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw))


def public_key_fingerprint(key: Any) -> str:
    """SHA-256 (hex) of the raw 32-byte Ed25519 public key (or of a private key's)."""
    pub = key.public_key() if hasattr(key, "private_bytes") else key
    return hashlib.sha256(_raw_public(pub)).hexdigest()


def _read_key_text(path: str | os.PathLike[str], what: str) -> tuple[Path, bytes]:
    p = Path(path)
    if not p.is_file():
        raise MissingInputError(f"{what} {p} does not exist.")
    if p.stat().st_size > _MAX_KEY_BYTES:
        raise InputError(f"{what} {p.name} is not a key file (larger than "
                         f"{_MAX_KEY_BYTES} bytes).")
    return p, p.read_bytes().strip()


def _raw32(data: bytes, p: Path, what: str) -> bytes:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InputError(f"{what} {p.name} is neither a PEM Ed25519 key nor a base64 "
                         "32-byte key.")
    return raw


def load_private_key(path: str | os.PathLike[str]) -> Any:
    """Read an Ed25519 private key (PEM PKCS#8 unencrypted, or base64 raw 32-byte seed).

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        The file holds no Ed25519 private key (a public key, another algorithm, an
        encrypted key, or garbage); the message names the file.
    """
    ed = _crypto()
    from cryptography.hazmat.primitives import serialization as ser

    p, data = _read_key_text(path, "private key file")
    if p.stat().st_mode & 0o077:
        logger.warning("private key file %s can be read by other users (chmod 600 %s)",
                       p.name, p.name)
    if data.startswith(b"-----BEGIN"):
        if b"PUBLIC KEY" in data.split(b"\n", 1)[0]:
            raise InputError(f"private key file {p.name} holds a public key; signing needs "
                             "the private key.")
        try:
            key = ser.load_pem_private_key(data, password=None)
        except TypeError as exc:
            raise InputError(f"private key file {p.name} is encrypted; radval reads "
                             "unencrypted PKCS#8 keys (keep the file mode 0600).") from exc
        except ValueError as exc:
            raise InputError(f"private key file {p.name} is not a valid PEM key.") from exc
        if not isinstance(key, ed.Ed25519PrivateKey):
            raise InputError(f"private key file {p.name} holds a {type(key).__name__}, not "
                             "an Ed25519 key.")
        return key
    return ed.Ed25519PrivateKey.from_private_bytes(_raw32(data, p, "private key file"))


def load_public_key(path: str | os.PathLike[str]) -> Any:
    """Read an Ed25519 public key (PEM SubjectPublicKeyInfo, or base64 raw 32 bytes).

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        The file holds no Ed25519 public key; a private key is refused with a
        message saying so (it must not be handed around).
    """
    ed = _crypto()
    from cryptography.hazmat.primitives import serialization as ser

    p, data = _read_key_text(path, "public key file")
    if data.startswith(b"-----BEGIN"):
        if b"PRIVATE KEY" in data.split(b"\n", 1)[0]:
            raise InputError(f"public key file {p.name} holds a PRIVATE key; give the "
                             "public key (.pub) and keep the private key with its owner.")
        try:
            key = ser.load_pem_public_key(data)
        except ValueError as exc:
            raise InputError(f"public key file {p.name} is not a valid PEM key.") from exc
        if not isinstance(key, ed.Ed25519PublicKey):
            raise InputError(f"public key file {p.name} holds a {type(key).__name__}, not "
                             "an Ed25519 key.")
        return key
    return ed.Ed25519PublicKey.from_public_bytes(_raw32(data, p, "public key file"))


def generate_keypair(out_dir: str | os.PathLike[str], *,
                     name: str = "radval-signing") -> KeyPair:
    """Create an Ed25519 key pair: ``<name>.key`` (private, mode 0600) and ``<name>.pub``.

    The private key is written once, directly with mode 0600 (no moment at which
    another user could read it), and never anywhere else; existing key files are
    never overwritten.

    Raises
    ------
    InputError
        ``name`` is not a plain file name, or one of the two files exists.
    """
    ed = _crypto()
    from cryptography.hazmat.primitives import serialization as ser

    from radval._provenance import atomic_write_text

    if not name or Path(name).name != name or name.startswith("."):
        raise InputError(f"key name {name!r} must be a plain file name.")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    priv_path, pub_path = folder / f"{name}.key", folder / f"{name}.pub"
    for q in (priv_path, pub_path):
        if q.exists() or q.is_symlink():
            raise InputError(f"key file {q} already exists; radval never overwrites a key "
                             "(choose another --out or --name).")
    key = ed.Ed25519PrivateKey.generate()
    pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    pub = key.public_key()
    atomic_write_text(pub_path, pub.public_bytes(
        ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo).decode("ascii"))
    return KeyPair(private_key=priv_path, public_key=pub_path,
                   fingerprint=public_key_fingerprint(pub),
                   public_key_base64=base64.b64encode(_raw_public(pub)).decode("ascii"))


def signature_document(sums: bytes, private_key: Any) -> bytes:
    """The ``SHA256SUMS.sig`` content: the Ed25519 signature of ``sums`` as JSON."""
    doc = {"format": _FORMAT, "version": 1, "algorithm": "Ed25519", "signed_file": "SHA256SUMS",
           "public_key_sha256": public_key_fingerprint(private_key),
           "signature": base64.b64encode(private_key.sign(sums)).decode("ascii")}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _parse_signature(data: bytes, where: str) -> tuple[bytes, str | None]:
    if len(data) > _MAX_SIG_BYTES:
        raise BundleSignatureError(f"{where}: {SIG_FILE} is not a radval signature (too large).")
    try:
        doc = json.loads(data.decode("utf-8"))
        ok = (isinstance(doc, dict) and doc.get("format") == _FORMAT
              and doc.get("algorithm") == "Ed25519" and doc.get("signed_file") == "SHA256SUMS")
        sig = base64.b64decode(str(doc["signature"]), validate=True) if ok else b""
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, binascii.Error, ValueError):
        ok, sig = False, b""
    if not ok or len(sig) != 64:
        raise BundleSignatureError(f"{where}: {SIG_FILE} is not a valid radval Ed25519 "
                                   "signature file.")
    claimed = doc.get("public_key_sha256")
    return sig, (str(claimed)[:64] if isinstance(claimed, str) else None)


def check_origin(sums: bytes, signature: bytes | None, *,
                 trusted_key: str | os.PathLike[str] | None, where: str) -> BundleOrigin:
    """Verify the signature of ``SHA256SUMS`` against the trusted key.

    Parameters
    ----------
    sums : bytes
        Exact content of the bundle's ``SHA256SUMS``.
    signature : bytes or None
        Content of ``SHA256SUMS.sig`` (None: the bundle is unsigned).
    trusted_key : path or None
        Public key file of the developing team.  Without it nothing is verified and
        the origin is reported as unverified.
    where : str
        Names the bundle in messages.

    Raises
    ------
    BundleSignatureError
        With a trusted key: the bundle is unsigned, signed by another key, or
        ``SHA256SUMS`` changed after signing.
    """
    if trusted_key is None:
        claimed = None
        if signature is not None:
            try:
                claimed = _parse_signature(signature, where)[1]
            except BundleSignatureError:
                claimed = None
        msg = ("the bundle's origin is unverified: no trusted key was given, so anyone could "
               "have made or changed it (checksums only catch accidents); use "
               "--trusted-key with the developers' public key")
        return BundleOrigin(verified=False, signed=signature is not None, key_fingerprint=None,
                            claimed_fingerprint=claimed, message=msg)
    key = load_public_key(trusted_key)
    fp = public_key_fingerprint(key)
    if signature is None:
        raise BundleSignatureError(f"{where}: the bundle is not signed ({SIG_FILE} is missing) "
                                   f"but a trusted key was given; refused.")
    sig, claimed = _parse_signature(signature, where)
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(sig, sums)
    except InvalidSignature as exc:
        if claimed is not None and claimed != fp:
            why = (f"it was signed by another key ({claimed[:16]}...), not the trusted key "
                   f"({fp[:16]}...)")
        else:
            why = "SHA256SUMS was changed after signing (or the signature was forged)"
        raise BundleSignatureError(f"{where}: {SIG_FILE} does not verify with the trusted key: "
                                   f"{why}; refused.") from exc
    return BundleOrigin(verified=True, signed=True, key_fingerprint=fp, claimed_fingerprint=fp,
                        message=f"the bundle is signed by the trusted key {fp[:16]}... and "
                                "unchanged since signing")


def sign_bundle(bundle: str | os.PathLike[str], *,
                private_key: str | os.PathLike[str]) -> tuple[Path, str]:
    """Sign a bundle (folder or .zip) in place: add or replace ``SHA256SUMS.sig``.

    The bundle is verified first (:func:`radval.models.bundle.load_bundle`), so a
    damaged bundle is never signed.  A .zip is rewritten atomically with the same
    entries plus the signature.

    Returns
    -------
    (Path, str)
        The bundle and the SHA-256 fingerprint of the signing key's public key.
    """
    import shutil
    import zipfile

    from radval._provenance import atomic_write_bytes
    from radval.models.bundle import SUMS_FILE, load_bundle

    key = load_private_key(private_key)
    p = Path(bundle)
    b = load_bundle(p)
    try:
        doc = signature_document((b.root / SUMS_FILE).read_bytes(), key)
        if p.is_dir():
            atomic_write_bytes(p / SIG_FILE, doc)
        else:
            tmp = p.with_name(f".{p.name}.tmp")
            names = sorted(q.name for q in b.root.iterdir() if q.name != SIG_FILE)
            try:
                with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                    for n in [*names, SIG_FILE]:
                        info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
                        info.compress_type = zipfile.ZIP_DEFLATED
                        zf.writestr(info, doc if n == SIG_FILE else (b.root / n).read_bytes())
                os.replace(tmp, p)
            finally:
                tmp.unlink(missing_ok=True)
    finally:
        if b.root != p:
            shutil.rmtree(b.root, ignore_errors=True)
    return p, public_key_fingerprint(key)
