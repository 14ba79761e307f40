"""Escape text that comes from a file for the format it lands in.

Every string radval did not write itself (bundle free text, model, predictor and
feature names, outcome definitions, cohort and subgroup labels, clinical values and
column names, share-file site labels, study-file text, messages that quote any of
these) passes through one of these functions at the point where it enters an
output.  One function per target:

=====================  =======================================================
:func:`md_text`        inline Quarto / pandoc markdown (paragraphs, table cells,
                       captions, callouts): the text renders literally, nothing
                       becomes markup, a raw block, math, a citation or a
                       shortcode; never a code chunk.
:func:`md_identifier`  a ``{#id}`` / ``@id`` label and a file-name stem
                       (``[a-z0-9-]`` only, never a path).
:func:`yaml_str`       a double-quoted YAML scalar (front matter).
:func:`html_text`,     HTML text and attribute values.
:func:`html_attr`
:func:`typst_text`     typst markup (for raw typst; pandoc escapes what it writes).
:func:`csv_cell`,      CSV cells opened by a spreadsheet: a text cell starting with
:func:`csv_frame`      ``= + - @`` (or tab / CR) is prefixed with ``'`` so that it is
                       not evaluated as a formula.
:func:`mpl_text`       matplotlib text: ``$`` is shown, never parsed as mathtext.
=====================  =======================================================

Markdown escaping relies on pandoc's rule that a backslash before any ASCII
punctuation character makes it literal (``all_symbols_escapable``, on in pandoc
and Quarto markdown).  Every character with a meaning in pandoc or Quarto
markdown is escaped; ``, ; ? / % ( ) !`` have no meaning inline and stay, and
``- = + # .`` are escaped where they mean something: at the start of the text (a
list item, header or setext line when the text starts a block) and in runs (``--``
smart dashes, ``...`` ellipsis).  The list markers ``1.``, ``(a)`` are escaped when
the text begins with one.  Line breaks and runs of whitespace become
one space, so input text can never start a block (header, list, fenced div, code
fence, table row, indented code) and never ends the line it is on.  Because ``{``,
``<`` and ``@`` are always escaped, the character sequences ``{{<``, ``{=``, ``@fig-``
and `````{`` never occur in the markdown source, which is what Quarto's
shortcode, raw-attribute, cross-reference and code-chunk parsers look for.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

import pandas as pd

__all__ = ["csv_cell", "csv_frame", "html_attr", "html_text", "md_identifier", "md_text",
           "mpl_text", "typst_text", "yaml_str"]

# ASCII punctuation with an inline meaning in pandoc / Quarto markdown: always escaped
_MD_SPECIAL = frozenset("\\`*_{}[]<>$@~^|\"'&:")
# characters that matter only at the start of a block ("- item", "+ item", "# Head",
# "=== " setext) or repeated ("--" / "---" smart dashes, "..." ellipsis, "==" mark)
_MD_RUN_OR_START = frozenset("-=+#.")
# a list marker at the start of a block: "1." "1)" "(1)" "a." "(iv)" ...
_MD_LIST_START = re.compile(r"^(\(?)([0-9]{1,9}|[A-Za-z]|[ivxlcdmIVXLCDM]{1,8})([.)])(?= |$)")


def _plain(value: Any) -> str:
    """``str(value)`` with control characters replaced and whitespace collapsed."""
    text = "" if value is None else str(value)
    chars = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch.isspace():
            chars.append(" ")
        elif cat == "Cc" or cat == "Cs":  # control characters, lone surrogates
            chars.append("\ufffd")
        else:
            chars.append(ch)
    return " ".join("".join(chars).split())


def md_text(value: Any) -> str:
    """Escape ``value`` as inline pandoc / Quarto markdown that renders literally.

    Parameters
    ----------
    value : any
        Converted with ``str`` (``None`` gives ``""``).

    Returns
    -------
    str
        One line: whitespace runs (including line breaks) become one space, control
        characters become U+FFFD, and every markdown-significant ASCII character is
        backslash-escaped where it is significant.  The result can be placed
        anywhere inline: in a paragraph, a pipe-table cell, a caption, a header, a
        callout or a YAML string that pandoc reads as markdown.

    Examples
    --------
    >>> md_text("<b>x</b> | {{< include y >}}")
    '\\\\<b\\\\>x\\\\</b\\\\> \\\\| \\\\{\\\\{\\\\< include y \\\\>\\\\}\\\\}'
    """
    text = _plain(value)
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch in _MD_SPECIAL or (ch in _MD_RUN_OR_START and (
                (i == 0 and ch != ".") or (i > 0 and text[i - 1] == ch)
                or (i + 1 < n and text[i + 1] == ch))):
            out.append("\\" + ch)
        else:
            out.append(ch)
    escaped = "".join(out)
    m = _MD_LIST_START.match(escaped)
    if m:  # "1. text" / "(a) text" at the start of a paragraph would become a list
        opening = "\\(" if m.group(1) else ""
        escaped = opening + m.group(2) + "\\" + m.group(3) + escaped[m.end():]
    return escaped


def md_identifier(value: Any, *, prefix: str = "") -> str:
    """A label safe for ``{#id}``, ``@id`` and file names: ``[a-z0-9-]`` only.

    Text that is not already such a slug gets a short hash suffix so that two
    different inputs never share a label (``"a b"`` and ``"a-b"`` differ).

    Examples
    --------
    >>> md_identifier("radiomics", prefix="fig-lasso-")
    'fig-lasso-radiomics'
    >>> md_identifier("../../etc", prefix="fig-lasso-")
    'fig-lasso-etc-74ccf3c5'
    """
    import hashlib

    text = "" if value is None else str(value)
    if re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", text) and len(text) <= 64:
        return prefix + text  # already a label: unchanged, so md_identifier is idempotent
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    slug = f"{slug}-{digest}" if slug else digest
    return prefix + slug


def yaml_str(value: Any) -> str:
    """A double-quoted YAML scalar holding exactly ``str(value)``.

    Backslash, double quote and every non-printable or line-breaking character are
    escaped (``\\n``, ``\\x85``, ``\\u2028`` ...), so the value stays on one line
    and cannot end the string, start a new key or a document.  Front-matter strings
    are read as markdown by pandoc: pass them through :func:`md_text` first.
    """
    text = "" if value is None else str(value)
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif (code < 0x20 or 0x7F <= code <= 0x9F or ch in "\u2028\u2029\ufeff"
              or unicodedata.category(ch) in ("Cs", "Co", "Cn")):
            out.append(f"\\x{code:02x}" if code <= 0xFF else
                       (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def html_text(value: Any) -> str:
    """Escape ``value`` as HTML text (``& < >`` and quotes)."""
    return html.escape("" if value is None else str(value), quote=True)


def html_attr(value: Any) -> str:
    """Escape ``value`` for a double-quoted HTML attribute value.

    Besides ``& < > " '`` the control characters and line breaks become character
    references, so the value cannot end the attribute or the tag.
    """
    text = html.escape("" if value is None else str(value), quote=True)
    return "".join(f"&#{ord(c)};" if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F else c
                   for c in text)


# typst markup characters (https://typst.app/docs/reference/syntax/): escaped with "\"
_TYPST_SPECIAL = frozenset("\\#$*_`<>@[]{}=-+/~.'\"")


def typst_text(value: Any) -> str:
    """Escape ``value`` as typst markup text (for a raw typst block).

    Every typst-significant character is backslash-escaped (``#`` would start code,
    ``$`` math, ``<`` a label, ``@`` a reference, ``=`` / ``-`` / ``+`` a heading or
    list, ``/`` a comment, ``...`` / ``--`` / ``'`` typographic shorthands); line
    breaks become spaces.
    """
    text = _plain(value)
    return "".join("\\" + c if c in _TYPST_SPECIAL else c for c in text)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_cell(value: Any) -> Any:
    """Neutralise a spreadsheet formula in one CSV cell (OWASP CSV injection).

    Only text cells change: a string that starts with ``= + - @``, a tab or a
    carriage return and is not a plain number (``-0.12`` stays a number) gets a
    leading ``'``.  Numbers, missing values and other objects are returned as is.
    """
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if _is_number(value):
        return value
    return "'" + value


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with :func:`csv_cell` applied to every text cell and column name."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(csv_cell)
    out.columns = [csv_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def mpl_text(value: Any) -> str:
    """Text for a matplotlib label that is drawn literally.

    matplotlib parses text between two unescaped ``$`` as mathtext (where
    ``\\input``-like commands and malformed math make the figure fail); ``\\$`` is
    drawn as a plain dollar sign.  Control characters become U+FFFD.
    """
    text = "" if value is None else str(value)
    text = "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cs") and c != "\n" else c
                   for c in text)
    return text.replace("$", "\\$")
