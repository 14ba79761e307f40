"""Paths in messages: never absolute, always relative to a folder the user knows.

Absolute paths can identify patients (``/data/patients/DOE_JOHN/ct.nii.gz``) and reveal a
site's file system, so nothing radval prints or writes carries one.  Our own messages name
files as the manifest or the study file writes them, but third-party messages do not:
SimpleITK says ``Could not open /abs/path/x.nii.gz``, an :class:`OSError` says
``[Errno 13] Permission denied: '/abs/out/results.json'``.  :func:`scrub_paths` rewrites every
path inside any text:

1. a path under one of the ``roots`` (the manifest folder, the study folder, the folders
   named on the command line, the working directory) becomes relative to the most specific
   root, as the user wrote it in the manifest (``images/p001.nii.gz``);
2. any other absolute path (POSIX ``/a/b``, Windows ``C:\\a\\b`` or ``\\\\server\\share``,
   ``file://`` URIs) is reduced to its last component (``x.nii.gz``).

The failures table (:func:`radval.features.checks.problem`), the command line's output streams,
error lines and ``--json`` summary (:mod:`radval.cli`) all go through this one function.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, TextIO

__all__ = ["ScrubbedStream", "display_path", "one_line_warning", "require_file", "scrub_paths",
           "scrub_value", "usable_roots"]

# Characters that cannot be part of a path in a message (where a path ends).
_STOP = r"\s'\"`<>|;,()\[\]{}"
# A POSIX absolute path: "/" not preceded by a word character, a dot, a slash, "~", "\" or
# "-" (so "and/or", "HU/mm", "../x" and the "//" of "tcp://host" or a URL are left alone),
# followed by at least one component.
_POSIX = re.compile(rf"(?<![\w./~\\-])/(?:[^{_STOP}/:]+/)*[^{_STOP}/:]+/?")
_WINDOWS = re.compile(rf"(?<![\w])(?:[A-Za-z]:|\\\\[^{_STOP}\\/]+)[\\/]"
                      rf"(?:[^{_STOP}\\/:*?]+[\\/])*[^{_STOP}\\/:*?]+")
_FILE_URI = re.compile(rf"file://[^{_STOP}]*")


def usable_roots(roots: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Absolute forms (as given and resolved) of ``roots``, most specific first.

    A filesystem root (``/``, ``C:\\``) is dropped: relative to it, a path is still absolute.
    """
    out: set[str] = set()
    for r in roots:
        if r is None or os.fspath(r) == "":
            continue
        a = os.path.abspath(os.fspath(r))
        for form in (a, os.path.realpath(a)):
            if Path(form).anchor != form and Path(form).parent != Path(form):
                out.add(form.rstrip("\\/"))
    return sorted(out, key=lambda s: (-len(s), s))


def _basename(path: str) -> str:
    name = PureWindowsPath(path).name if ("\\" in path or re.match(r"[A-Za-z]:", path)) \
        else PurePosixPath(path).name
    return name or path.strip("\\/") or "."


def display_path(path: str | os.PathLike[str], *,
                 roots: Iterable[str | os.PathLike[str]] = ()) -> str:
    """How a path is shown: relative to the most specific root, else its last component.

    A relative path is returned unchanged (with forward slashes).

    Examples
    --------
    >>> display_path("/data/study/images/p1.nii.gz", roots=["/data/study"])
    'images/p1.nii.gz'
    >>> display_path("/elsewhere/p1.nii.gz", roots=["/data/study"])
    'p1.nii.gz'
    """
    text = os.fspath(path)
    if not text:
        return text
    if not (os.path.isabs(text) or PureWindowsPath(text).is_absolute()):
        return Path(text).as_posix()
    for root in usable_roots(roots):
        if text == root:
            return _basename(root)
        for sep in ("/", "\\"):
            if text.startswith(root + sep):
                return text[len(root) + 1:].replace("\\", "/") or "."
    return _basename(text)


def scrub_paths(text: str, *, roots: Iterable[str | os.PathLike[str]] = (),
                replace: Mapping[str, str] | None = None) -> str:
    """``text`` with every absolute path rewritten (see the module docstring).

    Parameters
    ----------
    text : str
        Any message.
    roots : iterable of path
        Folders against which paths are shown relative (most specific wins).
    replace : mapping, optional
        Exact absolute paths and how to show them (e.g. a manifest row's resolved image
        path -> the path as the manifest writes it); applied first.

    Returns
    -------
    str
        The message without absolute paths.
    """
    if not isinstance(text, str) or not text:
        return text
    for full, shown in sorted((replace or {}).items(), key=lambda kv: -len(kv[0])):
        if full and os.path.isabs(full):
            text = re.sub(rf"(?<![\w./\\-]){re.escape(full)}(?![\w.-])",
                          shown.replace("\\", "\\\\"), text)
    root_list = usable_roots(roots)
    for root in root_list:
        # the root itself or a path below it; the root is written literally, so paths with
        # spaces are handled too
        pat = re.compile(rf"(?<![\w./\\-]){re.escape(root)}(?:[\\/][^{_STOP}:]*)?(?![\w.-])")
        text = pat.sub(lambda m: display_path(m.group(0).rstrip("/\\") or m.group(0),
                                              roots=root_list), text)
    text = _FILE_URI.sub(lambda m: _basename(m.group(0)[len("file://"):]), text)
    text = _WINDOWS.sub(lambda m: _basename(m.group(0)), text)
    return _POSIX.sub(lambda m: _basename(m.group(0)), text)


def scrub_value(value: Any, *, roots: Sequence[str | os.PathLike[str]] = ()) -> Any:
    """:func:`scrub_paths` applied to every string inside nested dicts, lists and tuples
    (and to :class:`os.PathLike` values), for JSON summaries."""
    if isinstance(value, str):
        return scrub_paths(value, roots=roots)
    if isinstance(value, os.PathLike):
        return display_path(value, roots=roots)
    if isinstance(value, Mapping):
        return {k: scrub_value(v, roots=roots) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v, roots=roots) for v in value]
    return value


def require_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` if it is a file; otherwise an error saying which
    of "does not exist" and "is a folder" is the case.

    Raises
    ------
    MissingInputError
        Nothing exists at ``path`` (exit code 66).
    InputError
        ``path`` is a folder (exit code 65).
    """
    from radval.exceptions import InputError, MissingInputError

    p = Path(os.fspath(path))
    if p.is_dir():
        raise InputError(f"{what} {p} is a folder; give the file.")
    if not p.exists():
        raise MissingInputError(f"{what} {p} does not exist.")
    return p


class ScrubbedStream:
    """A text stream that rewrites absolute paths (:func:`scrub_paths`) in everything
    written to it; every other attribute is the wrapped stream's."""

    def __init__(self, stream: TextIO, roots: Sequence[str | os.PathLike[str]] = ()) -> None:
        self._stream = stream
        self._roots = list(roots)

    def write(self, text: str) -> int:
        self._stream.write(scrub_paths(text, roots=self._roots))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def one_line_warning(message: Warning | str, category: type[Warning], filename: str,
                     lineno: int, line: str | None = None) -> str:
    """``warnings.formatwarning`` replacement: ``warning: <message>`` on one line (no file,
    line number or source line, which only a developer needs)."""
    return f"warning: {' '.join(str(message).split())}\n"
