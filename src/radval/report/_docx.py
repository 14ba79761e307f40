"""Finish a DOCX written by pandoc so that it survives a journal's production.

pandoc writes real Word tables (header row marked to repeat), the table caption above
the table and the figure caption below the figure.  :func:`finish_docx` then

* makes every table a three-line table (rule above and below the header, rule at the
  bottom), 9 pt, rows that do not split across pages, the header row repeated;
* keeps each table caption with its table and each figure with its caption;
* turns the "Table 3:" / "Figure S2:" caption prefixes into Word caption numbers (SEQ
  fields, with the number as their current result), so that Word's list of tables and
  cross-references work;
* sets the document's dates to the build date and rewrites the ZIP with fixed
  timestamps and order, so that two builds of the same results are byte-identical.

Figures are PNG at 300 dpi (:data:`radval.report.figures.SAVE_OPTIONS`).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["finish_docx", "normalise_zip"]

_CAPTION = re.compile(r"^(Table|Figure) (S?)(\d+):$")
_BORDER = {"w:val": "single", "w:sz": "8", "w:space": "0", "w:color": "000000"}


def _el(tag: str, **attrs: str) -> Any:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    el = OxmlElement(tag)
    for k, v in attrs.items():
        el.set(qn(k), v)
    return el


def _set_child(parent: Any, tag: str, **attrs: str) -> Any:
    from docx.oxml.ns import qn

    old = parent.find(qn(tag))
    if old is not None:
        parent.remove(old)
    el = _el(tag, **attrs)
    parent.append(el)
    return el


def _three_line(table: Any) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    tbl = table._tbl
    tbl_pr = tbl.tblPr
    borders = _el("w:tblBorders")
    for side in ("top", "bottom"):
        borders.append(_el(f"w:{side}", **{k: v for k, v in _BORDER.items()}))
    for side in ("left", "right", "insideH", "insideV"):
        borders.append(_el(f"w:{side}", **{"w:val": "nil"}))
    old = tbl_pr.find(qn("w:tblBorders"))
    if old is not None:
        tbl_pr.remove(old)
    tbl_pr.append(borders)
    rows = table.rows
    for i, row in enumerate(rows):
        tr_pr = row._tr.get_or_add_trPr()
        if tr_pr.find(qn("w:cantSplit")) is None:
            tr_pr.append(_el("w:cantSplit"))
        if i == 0 and tr_pr.find(qn("w:tblHeader")) is None:
            tr_pr.append(_el("w:tblHeader"))
        for cell in row.cells:
            if i == 0:
                tc_pr = cell._tc.get_or_add_tcPr()
                cb = _el("w:tcBorders")
                cb.append(_el("w:bottom", **_BORDER))
                old = tc_pr.find(qn("w:tcBorders"))
                if old is not None:
                    tc_pr.remove(old)
                tc_pr.append(cb)
            for para in cell.paragraphs:
                para.paragraph_format.space_after = Pt(0)
                para.paragraph_format.space_before = Pt(0)
                for run in para.runs:
                    run.font.size = Pt(9)
                    if i == 0:
                        run.font.bold = True


def _seq_field(run: Any, kind: str, prefix: str, number: str) -> None:
    """Replace the caption run ``"Table S3:"`` by ``"Table S"``, a SEQ field whose current
    result is ``3`` (a complex field: its runs stay plain runs of the paragraph), ``":"``."""
    from copy import deepcopy

    from docx.oxml.ns import qn

    r = run._r
    run.text = f"{kind} {prefix}"

    def clone(text: str | None = None) -> Any:
        new = deepcopy(r)
        for child in list(new):
            if child.tag != qn("w:rPr"):
                new.remove(child)
        if text is not None:
            t = _el("w:t", **{"xml:space": "preserve"})
            t.text = text
            new.append(t)
        return new

    begin, sep, end = clone(), clone(), clone()
    begin.append(_el("w:fldChar", **{"w:fldCharType": "begin"}))
    instr = clone()
    it = _el("w:instrText", **{"xml:space": "preserve"})
    it.text = f" SEQ {kind} \\* ARABIC "
    instr.append(it)
    sep.append(_el("w:fldChar", **{"w:fldCharType": "separate"}))
    end.append(_el("w:fldChar", **{"w:fldCharType": "end"}))
    last = r
    for el in (begin, instr, sep, clone(number), end, clone(":")):
        last.addnext(el)
        last = el


def finish_docx(path: str | Path, *, when: datetime | None = None) -> Path:
    """Post-process a pandoc DOCX in place (module docstring); returns its path."""
    import docx

    p = Path(path)
    d = docx.Document(str(p))
    figure_tables = set()
    for table in d.tables:
        style = table.style.name if table.style is not None else ""
        if "Figure" in style:   # pandoc's layout table of a figure without an image
            figure_tables.add(id(table._tbl))
            continue
        _three_line(table)
    for para in d.paragraphs:
        name = para.style.name if para.style is not None else ""
        if name in ("Table Caption", "Captioned Figure"):
            para.paragraph_format.keep_with_next = True
        if name in ("Table Caption", "Image Caption") and para.runs:
            first = para.runs[0]
            m = _CAPTION.match(first.text.strip())
            if m:
                _seq_field(first, m.group(1), m.group(2), m.group(3))
    when = (when or datetime.now(tz=UTC)).astimezone(UTC).replace(tzinfo=None)
    cp = d.core_properties
    cp.created = when
    cp.modified = when
    cp.last_printed = when
    cp.author = "radval"
    cp.last_modified_by = "radval"
    cp.revision = 1
    buf = io.BytesIO()
    d.save(buf)
    p.write_bytes(normalise_zip(buf.getvalue(), when))
    return p


def normalise_zip(data: bytes, when: datetime) -> bytes:
    """The same ZIP with every entry dated ``when``, in a fixed order (``[Content_Types].xml``
    first, as Word expects, then by name) and compressed the same way every time."""
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute,
             when.second - when.second % 2)
    src = zipfile.ZipFile(io.BytesIO(data))
    names = sorted(src.namelist(), key=lambda n: (n != "[Content_Types].xml", n))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            dst.writestr(info, src.read(name), compresslevel=6)
    return out.getvalue()
