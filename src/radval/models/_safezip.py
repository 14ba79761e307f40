"""Extract a flat, small .zip (a signature bundle) without trusting anything in it.

A bundle zip arrives from another institution: its entry names, types and sizes are
attacker-controlled.  :func:`extract_flat_zip` checks the whole entry list before it
creates a folder or writes a byte, and refuses the archive (naming the entry) when
any entry

* has a name that is empty, absolute (``/x``, ``\\x``), carries a drive letter
  (``C:``), contains ``..``, a slash or backslash (a bundle is flat), a NUL or another
  control character, or is not one of the allowed file names;
* repeats another entry's name, also when only the letter case differs;
* is a directory, a symbolic link or another special file (Unix mode or MS-DOS
  attributes in ``external_attr``), is encrypted, or uses a compression other than
  stored / deflate;
* declares more bytes than its file may hold, or an expansion ratio no bundle file
  reaches (a zip bomb); the declared total is capped as well.

The archive's end-of-central-directory record is read first so that an archive
announcing thousands of entries (or a huge central directory) is refused before
:mod:`zipfile` parses it.  Entries are then streamed in chunks with a running byte
count against the same limits; the declared sizes are never trusted (an entry that
inflates beyond them, or fails its CRC, aborts the extraction).  On any failure the
partly written folder is removed, so a refused archive leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from radval.exceptions import BundleError

__all__ = ["ZipLimits", "copy_limited", "extract_flat_zip"]

_CHUNK = 1 << 16
_EOCD = b"PK\x05\x06"
_EOCD_STRUCT = struct.Struct("<4s4H2LH")


@dataclass(frozen=True, kw_only=True)
class ZipLimits:
    """Limits an archive must respect (bytes unless stated).

    Attributes
    ----------
    max_file_bytes : mapping
        Allowed file name -> largest uncompressed size.  Only these names may occur.
    max_total_bytes : int
        Largest uncompressed size of all entries together.
    max_ratio : float
        Largest uncompressed / compressed size of an entry bigger than
        ``ratio_floor_bytes``.
    ratio_floor_bytes : int
        Entries at most this big are not ratio-checked (tiny text files compress well).
    max_central_directory_bytes : int
        Largest central directory (entry list) accepted.
    """

    max_file_bytes: Mapping[str, int]
    max_total_bytes: int
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1 << 20
    max_central_directory_bytes: int = 1 << 16

    @property
    def max_entries(self) -> int:
        """At most one entry per allowed name."""
        return len(self.max_file_bytes)


def _refuse(archive: Path, entry: str | None, why: str) -> BundleError:
    where = f"{archive.name}: entry {entry!r}" if entry is not None else archive.name
    return BundleError(f"{where} {why}; the bundle was refused and nothing was extracted.")


def _check_end_record(path: Path, limits: ZipLimits) -> None:
    """Read the end-of-central-directory record before :mod:`zipfile` parses the list."""
    size = path.stat().st_size
    if size > limits.max_total_bytes + limits.max_central_directory_bytes + (1 << 20):
        raise _refuse(path, None, f"is {size} bytes, larger than any bundle "
                      f"(limit {limits.max_total_bytes} bytes uncompressed)")
    with path.open("rb") as fh:
        tail_len = min(size, _EOCD_STRUCT.size + 0xFFFF)
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
    # the same search as zipfile: a record without comment at the very end, else the
    # last signature in the final 64 KiB
    pos = len(tail) - _EOCD_STRUCT.size
    if pos < 0 or tail[pos:pos + 4] != _EOCD:
        pos = tail.rfind(_EOCD)
    if pos < 0 or pos + _EOCD_STRUCT.size > len(tail):
        raise _refuse(path, None, "is not a valid zip file (no end-of-archive record)")
    (_sig, disk, cd_disk, n_disk, n_total, cd_size, cd_offset,
     _comment) = _EOCD_STRUCT.unpack_from(tail, pos)
    if 0xFFFF in (disk, cd_disk, n_disk, n_total) or 0xFFFFFFFF in (cd_size, cd_offset):
        raise _refuse(path, None, "is a ZIP64 archive; a bundle never needs one")
    if n_total > limits.max_entries or n_disk != n_total:
        raise _refuse(path, None, f"announces {n_total} entries; a bundle has at most "
                      f"{limits.max_entries}")
    if cd_size > limits.max_central_directory_bytes:
        raise _refuse(path, None, f"has a {cd_size}-byte entry list; a bundle's is below "
                      f"{limits.max_central_directory_bytes} bytes")


def _name_problem(raw: str, allowed: Mapping[str, int]) -> str | None:
    """Why ``raw`` (the entry name exactly as stored) is not acceptable, or None."""
    if raw == "":
        return "has an empty name"
    if any(unicodedata.category(c) == "Cc" for c in raw):
        return "has a NUL or control character in its name"
    if raw.startswith(("/", "\\")):
        return "has an absolute name"
    if len(raw) >= 2 and raw[1] == ":" and raw[0].isascii() and raw[0].isalpha():
        return "has a name with a drive letter"
    if ".." in raw:
        return "has '..' in its name"
    if "\\" in raw:
        return "has a backslash in its name"
    if "/" in raw:
        return "is inside a folder (a bundle zip holds flat files only)"
    if raw not in allowed:
        return f"is not a bundle file (allowed: {', '.join(sorted(allowed))})"
    return None


def _type_problem(info: zipfile.ZipInfo) -> str | None:
    if info.is_dir():
        return "is a directory"
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:  # Unix: st_mode in the high 16 bits
        if stat.S_ISLNK(mode):
            return "is a symbolic link"
        if stat.S_ISDIR(mode):
            return "is a directory"
        if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
            return "is a special file (not a regular file)"
    if info.external_attr & 0x10:  # MS-DOS directory attribute
        return "is a directory"
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"uses compression method {info.compress_type} (only stored or deflate)"
    return None


def _check_entries(path: Path, infos: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    if len(infos) > limits.max_entries:
        raise _refuse(path, None, f"has {len(infos)} entries; a bundle has at most "
                      f"{limits.max_entries}")
    seen: dict[str, str] = {}
    total = 0
    for info in infos:
        raw = info.orig_filename  # zipfile cuts ZipInfo.filename at a NUL
        problem = _name_problem(raw, limits.max_file_bytes) or _type_problem(info)
        if problem is not None:
            raise _refuse(path, raw, problem)
        folded = raw.casefold()
        if folded in seen:
            raise _refuse(path, raw, f"duplicates the entry {seen[folded]!r}")
        seen[folded] = raw
        cap = limits.max_file_bytes[raw]
        if info.file_size > cap:
            raise _refuse(path, raw, f"declares {info.file_size} bytes; {raw} may hold at "
                          f"most {cap}")
        if (info.file_size > limits.ratio_floor_bytes
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
            raise _refuse(path, raw, f"expands {info.file_size / max(info.compress_size, 1):.0f}"
                          f"-fold (limit {limits.max_ratio:.0f}); a zip bomb")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise _refuse(path, raw, f"brings the declared size to {total} bytes, above the "
                          f"bundle limit of {limits.max_total_bytes}")


def copy_limited(src: object, dst: object, *, limit: int, what: str) -> int:
    """Copy a binary stream in chunks and stop as soon as more than ``limit`` bytes came.

    Parameters
    ----------
    src, dst : binary file objects
        ``src.read(n)`` and ``dst.write(b)``.
    limit : int
        Largest number of bytes accepted; reading stops at ``limit + 1``.
    what : str
        Names the entry in the error message.

    Returns
    -------
    int
        Bytes copied.

    Raises
    ------
    BundleError
        The stream holds more than ``limit`` bytes (at most ``limit`` were written).
    """
    n = 0
    while True:
        chunk = src.read(min(_CHUNK, limit + 1 - n))  # type: ignore[attr-defined]
        if not chunk:
            return n
        if n + len(chunk) > limit:
            raise BundleError(f"{what} holds more than {limit} bytes (more than it declared "
                              "or than the bundle limit); the bundle was refused and nothing "
                              "was extracted.")
        dst.write(chunk)  # type: ignore[attr-defined]
        n += len(chunk)


def extract_flat_zip(path: str | os.PathLike[str], *, limits: ZipLimits,
                     prefix: str = "radval-bundle-") -> Path:
    """Check and extract a flat zip into a new folder in the system temporary folder.

    Parameters
    ----------
    path : path
        The archive.
    limits : ZipLimits
        Allowed names and size limits.
    prefix : str, default "radval-bundle-"
        Prefix of the temporary folder.

    Returns
    -------
    Path
        The new folder holding exactly the archive's entries.  The caller removes it.

    Raises
    ------
    BundleError
        Naming the archive and the offending entry.  Nothing is left on disk.
    """
    p = Path(path)
    _check_end_record(p, limits)
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            _check_entries(p, infos, limits)
            # nothing has been written so far; everything below is undone on failure
            dest = Path(tempfile.mkdtemp(prefix=prefix))
            try:
                real = dest.resolve()
                total_left = limits.max_total_bytes
                for info in infos:
                    name = info.orig_filename
                    target = dest / name
                    if target.resolve().parent != real:  # cannot happen after the name check
                        raise _refuse(p, name, "would be written outside the bundle folder")
                    cap = min(info.file_size, limits.max_file_bytes[name], total_left)
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                 | getattr(os, "O_NOFOLLOW", 0), 0o600)
                    with zf.open(info) as src, os.fdopen(fd, "wb") as dst:
                        n = copy_limited(src, dst, limit=cap, what=f"{p.name}: entry {name!r}")
                    if n != info.file_size:
                        raise _refuse(p, name, f"holds {n} bytes but declares {info.file_size}")
                    total_left -= n
            except BaseException:
                shutil.rmtree(dest, ignore_errors=True)
                raise
    except zipfile.BadZipFile as exc:
        raise _refuse(p, None, f"is not a valid zip file ({exc})") from exc
    except (zlib.error, EOFError) as exc:
        raise _refuse(p, None, f"is damaged ({exc})") from exc
    return dest
