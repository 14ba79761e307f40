"""How values read from input files are coded: one rule per concept, one place.

Development (``radval run``) and external validation (``radval validate``) read the
same kinds of tables (clinical table, manifest, features table) and must code them
identically, or the same patient gets another outcome, another segmentation or
another cohort at the step an external site trusts.  Every reader of those tables
calls the functions here:

* :func:`code_ids`: identifiers (``patient_id``, ``cohort``, ``reader``) are text
  without surrounding whitespace; a missing identifier is an error;
* :func:`normalise_label`: a label (outcome value, categorical level) as canonical
  text: surrounding whitespace removed, ``1``, ``1.0``, ``" 1 "`` and ``True`` all
  become ``"1"``;
* :func:`code_outcome`: a binary outcome column coded 1 / 0 / missing; the column must
  hold exactly two levels (plus missing values) and one of them must be the positive
  label, otherwise the error names the column, the levels found and the label
  expected (nothing is silently coded 0);
* :func:`reader_key`, :func:`primary_rows`: which segmentation of a patient is
  modelled: the patient's reader that sorts first in natural order (``"1"`` before
  ``"2"`` before ``"10"``; ``"A"`` before ``"B"``), per patient, so that a patient
  segmented only by a second reader keeps that segmentation;
* :func:`check_cohort_agreement`: every patient belongs to one cohort in every table
  that names it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from radval.exceptions import DataError

__all__ = [
    "check_cohort_agreement",
    "code_ids",
    "code_outcome",
    "normalise_label",
    "outcome_levels",
    "primary_rows",
    "reader_key",
]

_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
# what a YAML boolean (``positive_label: yes`` is read as True) may be written as in a table
_TRUE_WORDS = frozenset({"1", "true", "yes", "y"})
_FALSE_WORDS = frozenset({"0", "false", "no", "n"})


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(float(value))


def _number_text(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)


def normalise_label(value: Any) -> str | None:
    """A label as canonical text (``None`` when missing).

    Surrounding whitespace is removed; booleans become ``"1"`` / ``"0"``; numbers and
    numeric text become their shortest form (``1``, ``1.0``, ``" 1 "`` -> ``"1"``;
    ``0.50`` -> ``"0.5"``); empty text is missing.  Text is compared as written
    otherwise (``"Yes"`` and ``"yes"`` are two levels).
    """
    if _is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return _number_text(float(value))
    text = str(value).strip()
    if not text:
        return None
    if _NUMBER.match(text):
        x = float(text)
        if math.isfinite(x):
            return _number_text(x)
    return text


def code_ids(values: pd.Series, *, column: str, source: str) -> pd.Series:
    """Identifiers as text without surrounding whitespace.

    Raises
    ------
    DataError
        A row has no identifier (names the file, the column and the rows).
    """
    text = values.map(lambda v: None if _is_missing(v) else str(v).strip())
    bad = text.isna() | (text == "")
    if bad.any():
        rows = [int(i) + 2 for i in np.flatnonzero(bad.to_numpy())[:10]]
        raise DataError(f"{source}: column {column!r} is empty in {int(bad.sum())} row(s) "
                        f"(file lines {', '.join(map(str, rows))}); every row needs a "
                        f"{column}.")
    return text.astype(str)


def outcome_levels(values: pd.Series) -> list[str]:
    """The distinct non-missing labels of ``values`` (:func:`normalise_label`), sorted."""
    labels = {lab for lab in map(normalise_label, values.tolist()) if lab is not None}
    return sorted(labels, key=reader_key)


def _label_matches(label: str, wanted: Any) -> bool:
    if isinstance(wanted, bool | np.bool_):
        words = _TRUE_WORDS if wanted else _FALSE_WORDS
        return label.casefold() in words
    return label == normalise_label(wanted)


def code_outcome(values: pd.Series, *, positive_label: Any, negative_label: Any = None,
                 column: str, source: str) -> pd.Series:
    """Code a binary outcome column: 1.0 for the positive label, 0.0 for the other
    level, NaN for a missing value.

    Parameters
    ----------
    values : Series
        The outcome column as read.
    positive_label : int, str or bool
        The event.  A boolean (YAML reads ``yes`` as ``True``) matches ``1``, ``true``,
        ``yes`` or ``y`` in any case (``False``: ``0``, ``false``, ``no``, ``n``).
    negative_label : int, str or bool, optional
        The non-event.  When given, every non-missing value must be one of the two
        labels; a frozen bundle carries the development cohort's negative label, so that
        a site's column is checked against both.
    column, source : str
        Named in errors (``"clinical table clinical.csv"``).

    Returns
    -------
    Series of float
        Same index as ``values``; ``attrs["labels"]`` holds the ``positive`` and
        ``negative`` labels as found (the negative one is carried into a frozen bundle).

    Raises
    ------
    DataError
        The column holds more than two levels, a level that is neither label, two levels
        of which none is the positive label, or a single level that cannot be told to be
        either label; or no value at all.  The message names the column, the levels found
        and the label(s) expected.
    """
    labels = values.map(normalise_label)
    levels = outcome_levels(values)
    pos_text = normalise_label(positive_label)
    expected = f"positive label {pos_text!r}"
    if negative_label is not None:
        expected += f" and negative label {normalise_label(negative_label)!r}"
    shown = ", ".join(repr(v) for v in levels[:8]) + (" ..." if len(levels) > 8 else "")

    def fail(problem: str) -> DataError:
        return DataError(f"{source}: outcome column {column!r} {problem}; found "
                         f"{len(levels)} level(s): {shown or 'none'} (expected the "
                         f"{expected}).")

    if not levels:
        raise fail("has no non-missing value")
    pos = [lev for lev in levels if _label_matches(lev, positive_label)]
    neg: list[str]
    if negative_label is not None:
        neg = [lev for lev in levels if _label_matches(lev, negative_label)]
        other = [lev for lev in levels if lev not in pos and lev not in neg]
        if other:
            raise fail(f"holds {', '.join(map(repr, other))}, which is neither label")
    else:
        if len(levels) > 2:
            raise fail("must hold exactly two levels plus missing values")
        neg = [lev for lev in levels if lev not in pos]
        if len(levels) == 2 and not pos:
            raise fail("holds two levels, none of which is the positive label")
        if len(levels) == 1 and not pos and not _conventional_negative(levels[0],
                                                                        positive_label):
            raise fail("holds one level only, which is not the positive label; set "
                       "outcome.negative_label if it is the non-event")
    if len(pos) > 1 or len(neg) > 1:
        raise fail("holds several spellings of one label")
    out = pd.Series(np.where(labels.isin(pos), 1.0, 0.0), index=values.index, dtype=float)
    out[labels.isna().to_numpy()] = np.nan
    out.attrs["labels"] = {"positive": pos[0] if pos else pos_text,
                           "negative": neg[0] if neg else normalise_label(negative_label)}
    return out


def _conventional_negative(level: str, positive_label: Any) -> bool:
    """``0`` / ``false`` / ``no`` as the only level of a column whose event is ``1`` /
    ``true`` / ``yes``: a cohort without events, coded the usual way."""
    pos = normalise_label(positive_label)
    if pos is None:
        return False
    if isinstance(positive_label, bool | np.bool_) or pos.casefold() in _TRUE_WORDS:
        return level.casefold() in _FALSE_WORDS
    return False


def reader_key(label: Any) -> tuple[int, float, str]:
    """Natural sort key of a reader (or level) label: numbers first, by value, then text.

    ``"1" < "2" < "10" < "A" < "B" < "b2"``.
    """
    text = str(label).strip()
    if _NUMBER.match(text):
        x = float(text)
        if math.isfinite(x):
            return (0, x, text)
    return (1, 0.0, text.casefold() + "\x00" + text)


def primary_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of each patient's primary segmentation (the reader that sorts first).

    ``frame`` has ``patient_id`` and optionally ``reader`` (absent: every row is the
    primary one).  Rows keep their order; one row per patient is returned.
    """
    if frame.empty:
        return frame
    pid = frame["patient_id"].astype(str).to_numpy()
    if "reader" not in frame.columns:
        keep = ~pd.Series(pid).duplicated().to_numpy()
        return frame[keep]
    keys = [reader_key(r) for r in frame["reader"].astype(str)]
    order = sorted(range(len(frame)), key=lambda i: (pid[i], keys[i], i))
    chosen = np.zeros(len(frame), dtype=bool)
    seen: set[str] = set()
    for i in order:
        if pid[i] not in seen:
            seen.add(pid[i])
            chosen[i] = True
    return frame[chosen]


def check_cohort_agreement(tables: Mapping[str, pd.DataFrame]) -> None:
    """Every patient belongs to one cohort across (and within) the named tables.

    Parameters
    ----------
    tables : mapping
        Table description (``"manifest manifest.csv"``) -> frame with ``patient_id`` and
        ``cohort`` (tables without a ``cohort`` column are skipped).

    Raises
    ------
    DataError
        Naming up to ten patients with the cohort each table gives them.
    """
    seen: dict[str, dict[str, set[str]]] = {}
    for name, frame in tables.items():
        if frame is None or "cohort" not in frame.columns or "patient_id" not in frame.columns:
            continue
        pairs = frame[["patient_id", "cohort"]].dropna().astype(str)
        for pid, cohort in zip(pairs["patient_id"].str.strip(), pairs["cohort"].str.strip(),
                               strict=True):
            seen.setdefault(pid, {}).setdefault(name, set()).add(cohort)
    bad = {pid: where for pid, where in seen.items()
           if len(set().union(*where.values())) > 1}
    if not bad:
        return
    shown = []
    for pid in sorted(bad, key=reader_key)[:10]:
        parts = "; ".join(f"{name}: {', '.join(sorted(c))}" for name, c in bad[pid].items())
        shown.append(f"{pid} ({parts})")
    raise DataError(f"{len(bad)} patient(s) are in more than one cohort: "
                    f"{' | '.join(shown)}. A patient may belong to one cohort only "
                    "(development patients scored as external would inflate validation).")
