"""Disclosure control of share.json, tested by an attacker.

The attacker reads one share.json and knows the published rule.  It tries every
derivation listed in the module docstring of :mod:`radval.pool.share`:

* the number of events from ``events``, ``non_events``, ``prevalence``, ``treat_all`` (x n),
  O/E and log O/E (x E = n x mean predicted risk of the shift block), the SE of log O/E
  (O = n / (n SE^2 + 1)), the integrality of 2 AUC n1 (n - n1), a missing DeLong SE
  (n1 = 1 or n0 = 1), the Brier score (|n B - sum p^2| <= O), the 2x2 table at the cutoff;
  point guesses from CITL (O ~ exp(CITL) E), its SE (O ~ 1/SE^2) and the Hanley-McNeil
  inversion of the DeLong SE;
* the 2x2 table at every threshold: the integer solutions (TP, FP) of n NB = TP - FP t/(1-t)
  within 0 <= TP <= O, 0 <= FP <= n - O, jointly over all thresholds with TP and FP
  non-increasing in the threshold, and, when the table at the cutoff is withheld while the
  classes are not, the knowledge that one of its cells is below min_cell;
* the patients between two thresholds (differences of tables).

A protected count (events, non-events, a cell of a table, the events or non-events
between two thresholds when someone is there) whose true value is below min_cell must not
be narrowed to three consecutive values or fewer (the middle one would be within one
patient).  When the classes are withheld the attacker is also told which class is the
small one (the mean predicted risk usually says so).

The time-to-event block (:mod:`radval.pool._survival_share`) is attacked the same way on
sites without censoring before the last horizon (the worst case): the cases before each
horizon from O/E x the mean predicted risk, from the SE of log O/E (Greenwood), from the
null Brier score B / (1 - IPA) = S(1 - S), from the integrality of 2 AUC(t) d (n - d),
jointly with d(12) <= d(24) <= d(36) <= events; protected are the events, the event-free,
the cases and controls at each horizon, the events between horizons and after the last.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from radval.exceptions import DataError, RadvalWarning
from radval.models.shift import dataset_shift
from radval.pool.pooling import pool_shares
from radval.pool.share import build_share, write_share
from tests.models.test_signature import make_signature

MIN_CELL = 5
TOL = 1e-6
EDGES = (0.02, 0.1, 0.2, 0.25, 0.3, 0.95)  # risk bands; the thresholds are inner edges
CUTOFF = 0.25
THRESHOLDS = (0.1, 0.2, 0.3)


# ------------------------------------------------------------------------------ sites
def _banded(events: Sequence[int], non_events: Sequence[int], rng: np.random.Generator,
            edges: Sequence[float] = EDGES) -> tuple[np.ndarray, np.ndarray]:
    """A site with the given numbers of events and non-events in each risk band."""
    ys, ps = [], []
    for b, (e, ne) in enumerate(zip(events, non_events)):
        lo, hi = edges[b], edges[b + 1]
        for label, count in ((1, e), (0, ne)):
            ys += [label] * count
            ps += list(rng.uniform(lo + 1e-3, hi - 1e-3, size=count))
    order = rng.permutation(len(ys))
    return np.asarray(ys)[order], np.asarray(ps)[order]


def _shift_for(p: np.ndarray, rng: np.random.Generator) -> Any:
    """A real dataset-shift result, so the share carries the site's mean predicted risk."""
    n = p.size
    feats = pd.DataFrame({"patient_id": [f"x{i}" for i in range(n)],
                          "radiomics_a": rng.normal(1.0, 0.5, size=n),
                          "radiomics_b": rng.normal(2.0, 1.5, size=n),
                          "deep_0": rng.normal(0.0, 1.0, size=n)})
    return dataset_shift(feats, make_signature(), probabilities=p, warn=False)


def _share(y: np.ndarray, p: np.ndarray, rng: np.random.Generator,
           thresholds: Sequence[float] = THRESHOLDS, cutoff: float = CUTOFF,
           **kw: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        doc = build_share(y, p, site="s1", cutoff=cutoff, thresholds=thresholds,
                          shift=_shift_for(p, rng), **kw)
    return json.loads(json.dumps(doc))  # exactly what travels


def _truth(y: np.ndarray, p: np.ndarray, nodes: Sequence[float]) -> dict[str, Any]:
    yb = y.astype(bool)
    tables = {t: (int(((p >= t) & yb).sum()), int(((p >= t) & ~yb).sum())) for t in nodes}
    return {"events": int(yb.sum()), "non_events": int((~yb).sum()), "tables": tables}


# --------------------------------------------------------------------------- attacker
def _hanley_mcneil_se(a: float, n1: int, n0: int) -> float:
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)
    return math.sqrt(max(var, 0.0))


def _events_candidates(doc: dict[str, Any]) -> tuple[set[int], list[float]]:
    """Numbers of events consistent with the file, and point guesses of it."""
    n = doc["n"]
    cands = set(range(1, n))
    guesses: list[float] = []

    def keep(ok: Any) -> None:
        nonlocal cands
        cands = {o for o in cands if ok(o)}

    if doc["events"] is not None:
        keep(lambda o: o == doc["events"])
    if doc["non_events"] is not None:
        keep(lambda o: o == n - doc["non_events"])
    if doc["prevalence"] is not None:
        keep(lambda o: abs(doc["prevalence"] * n - o) < TOL)
    for r in doc["net_benefit"]:
        if r["treat_all"] is not None:
            w = r["threshold"] / (1 - r["threshold"])
            pi = (r["treat_all"] + w) / (1 + w)
            keep(lambda o, pi=pi: abs(pi * n - o) < TOL)
    risk = doc["shift"]["predicted_risk"]
    e = None if risk["val_mean"] is None else n * risk["val_mean"]
    cal, disc = doc["calibration"], doc["discrimination"]
    if cal["o_e"] is not None and e is not None:
        keep(lambda o: abs(cal["o_e"] * e - o) < TOL * n)
    if cal["log_o_e"] is not None and e is not None:
        keep(lambda o: abs(math.exp(cal["log_o_e"]) * e - o) < TOL * n)
    if cal["log_o_e_se"] is not None:
        keep(lambda o: abs(n / (n * cal["log_o_e_se"] ** 2 + 1) - o) < TOL * n)
    if cal["o_e_se"] is not None and cal["o_e"]:
        se = cal["o_e_se"] / cal["o_e"]
        keep(lambda o: abs(n / (n * se ** 2 + 1) - o) < TOL * n)
    if disc["auc"] is not None:
        keep(lambda o: abs(2 * disc["auc"] * o * (n - o)
                           - round(2 * disc["auc"] * o * (n - o))) < TOL)
        if disc["auc_se"] is None:
            keep(lambda o: o in (1, n - 1))
    if cal["brier"] is not None and e is not None and risk["val_sd"] is not None:
        sum_p2 = (n - 1) * risk["val_sd"] ** 2 + n * risk["val_mean"] ** 2
        b = n * cal["brier"] - sum_p2  # = O - 2 sum_{events} p, so |b| <= O
        keep(lambda o: o >= abs(b) - TOL)
    tm = doc["threshold_metrics"]
    if tm["tp"] is not None:
        keep(lambda o: o == tm["tp"] + tm["fn"] and n - o == tm["fp"] + tm["tn"])
    if cal["citl"] is not None and e is not None:
        guesses.append(math.exp(cal["citl"]) * e)
    if cal["citl_se"]:
        guesses.append(1 / cal["citl_se"] ** 2)
    if disc["auc_se"] and disc["auc"] is not None and 0 < disc["auc"] < 1 and cands:
        guesses.append(min(cands, key=lambda o: abs(
            _hanley_mcneil_se(disc["auc"], o, n - o) - disc["auc_se"])))
    return cands, guesses


def _node_candidates(doc: dict[str, Any], t: float, o: int,
                     cutoff: float) -> list[tuple[int, int]] | None:
    """(TP, FP) at threshold t consistent with the file; None: unconstrained."""
    n, n0 = doc["n"], doc["n"] - o
    out: set[tuple[int, int]] | None = None
    tm = doc["threshold_metrics"]
    if t == cutoff:
        if tm["tp"] is not None:
            ok = tm["tp"] + tm["fn"] == o and tm["fp"] + tm["tn"] == n0
            out = {(tm["tp"], tm["fp"])} if ok else set()
        elif doc["events"] is not None:
            # withheld while the classes are released: one of its cells is small
            out = {(tp, fp) for tp in range(o + 1) for fp in range(n0 + 1)
                   if min(tp, fp, o - tp, n0 - fp) < MIN_CELL}
    for r in doc["net_benefit"]:
        if r["threshold"] != t or r["net_benefit"] is None:
            continue
        w = t / (1 - t)
        sol = set()
        for tp in range(o + 1):
            fp = (tp - r["net_benefit"] * n) / w
            if abs(fp - round(fp)) < TOL and 0 <= round(fp) <= n0:
                sol.add((tp, round(fp)))
        out = sol if out is None else out & sol
    return None if out is None else sorted(out)


def _attack(doc: dict[str, Any], nodes: Sequence[float], cutoff: float,
            truth: dict[str, Any]) -> list[str]:
    """Protected counts below MIN_CELL that the file narrows to <= 3 values."""
    n = doc["n"]
    cands, guesses = _events_candidates(doc)
    o_true = truth["events"]
    assert o_true in cands, "attacker unsound: the true number of events was ruled out"
    leaks: list[str] = []
    for g in guesses:
        if o_true < MIN_CELL and abs(g - o_true) <= 1:
            leaks.append(f"events ~ {g:.2f} (true {o_true})")
        if n - o_true < MIN_CELL and abs((n - g) - (n - o_true)) <= 1:
            leaks.append(f"non-events ~ {n - g:.2f} (true {n - o_true})")
    sides = [cands]
    if doc["events"] is None and not doc["suppression"]["allowed"]:
        # classes withheld: one is small, and the attacker is told which
        sides = [s for s in ({o for o in cands if o < MIN_CELL},
                             {o for o in cands if n - o < MIN_CELL}) if o_true in s]
    true_counts = _true_counts(truth, nodes, n)
    for side in sides:
        ranges: dict[str, list[int]] = {}

        def seen(name: str, lo: int, hi: int, ranges: dict[str, list[int]] = ranges) -> None:
            r = ranges.setdefault(name, [lo, hi])
            r[0], r[1] = min(r[0], lo), max(r[1], hi)

        for o in side:
            seen("events", o, o)
            seen("non_events", n - o, n - o)
            per_node = [_node_candidates(doc, t, o, cutoff) for t in nodes]
            constrained = [i for i, c in enumerate(per_node) if c is not None]
            for combo in itertools.product(*(per_node[i] for i in constrained)):
                assigned = dict(zip(constrained, combo))
                if any(assigned[a][0] < assigned[b][0] or assigned[a][1] < assigned[b][1]
                       for a, b in zip(constrained, constrained[1:])):
                    continue  # tables must be nested
                bounds = []
                for i in range(len(nodes)):
                    if i in assigned:
                        tp, fp = assigned[i]
                        bounds.append(((tp, tp), (fp, fp)))
                        continue
                    below = [assigned[j] for j in constrained if j < i]
                    above = [assigned[j] for j in constrained if j > i]
                    hi_tp, hi_fp = below[-1] if below else (o, n - o)
                    lo_tp, lo_fp = above[0] if above else (0, 0)
                    bounds.append(((lo_tp, hi_tp), (lo_fp, hi_fp)))
                for i, ((tp_lo, tp_hi), (fp_lo, fp_hi)) in enumerate(bounds):
                    seen(f"tp@{nodes[i]}", tp_lo, tp_hi)
                    seen(f"fp@{nodes[i]}", fp_lo, fp_hi)
                    seen(f"fn@{nodes[i]}", o - tp_hi, o - tp_lo)
                    seen(f"tn@{nodes[i]}", n - o - fp_hi, n - o - fp_lo)
                for i in range(len(nodes) - 1):
                    (a_lo, a_hi), (c_lo, c_hi) = bounds[i]
                    (b_lo, b_hi), (d_lo, d_hi) = bounds[i + 1]
                    seen(f"events[{nodes[i]},{nodes[i + 1]})", max(0, a_lo - b_hi), a_hi - b_lo)
                    seen(f"non_events[{nodes[i]},{nodes[i + 1]})", max(0, c_lo - d_hi),
                         c_hi - d_lo)
        for name, value in true_counts.items():
            lo, hi = ranges[name]
            assert lo <= value <= hi, f"attacker unsound for {name}"
            if value < MIN_CELL and hi - lo <= 2:
                leaks.append(f"{name} = {value} narrowed to {lo}..{hi}")
    return leaks


def _true_counts(truth: dict[str, Any], nodes: Sequence[float], n: int) -> dict[str, int]:
    out = {"events": truth["events"], "non_events": truth["non_events"]}
    o = truth["events"]
    for t in nodes:
        tp, fp = truth["tables"][t]
        out.update({f"tp@{t}": tp, f"fp@{t}": fp, f"fn@{t}": o - tp, f"tn@{t}": n - o - fp})
    for a, b in zip(nodes, nodes[1:]):
        d_e = truth["tables"][a][0] - truth["tables"][b][0]
        d_n = truth["tables"][a][1] - truth["tables"][b][1]
        if d_e + d_n:  # nobody between two thresholds: nobody to disclose
            out[f"events[{a},{b})"] = d_e
            out[f"non_events[{a},{b})"] = d_n
    return out


def _released_guarantee(doc: dict[str, Any], truth: dict[str, Any], cutoff: float) -> None:
    """Worst case: even if every released table were known exactly, all its cells and the
    patients between any two released tables are >= MIN_CELL."""
    o, n0 = truth["events"], truth["non_events"]
    released = [t for t in truth["tables"]
                if (t == cutoff and doc["threshold_metrics"]["tp"] is not None)
                or any(r["threshold"] == t and r["net_benefit"] is not None
                       for r in doc["net_benefit"])]
    if released:
        assert min(o, n0) >= MIN_CELL
    for t in released:
        tp, fp = truth["tables"][t]
        assert min(tp, fp, o - tp, n0 - fp) >= MIN_CELL, t
    for a, b in itertools.combinations(sorted(released), 2):
        d_e = truth["tables"][a][0] - truth["tables"][b][0]
        d_n = truth["tables"][a][1] - truth["tables"][b][1]
        assert d_e + d_n == 0 or min(d_e, d_n) >= MIN_CELL, (a, b)


# ------------------------------------------------------------------------ scenarios
NE40 = (10, 10, 8, 6, 6)
#: bands with an upper threshold of 0.37: t/(1-t) = 37/63, so n NB = TP - FP 37/63 has one
#: integer solution when fewer than 37 events and 63 non-events (0.1, 0.2, 0.3 have several)
EDGES_37 = (0.02, 0.1, 0.2, 0.25, 0.37, 0.95)
SCENARIOS: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[float, ...]]] = {
    # few events or few non-events
    **{f"{e}_events": ((0, 0, 0, 0, e) if e == 1 else (0, 1, 0, 0, e - 1), NE40, THRESHOLDS)
       for e in (1, 2, 3, 4)},
    **{f"{ne}_non_events": ((6, 8, 8, 8, 10), (ne,) + (0,) * 4, THRESHOLDS)
       for ne in (1, 2, 3, 4)},
    "4_events_2_bands": ((0, 2, 0, 0, 2), NE40, THRESHOLDS),
    "3_non_events_spread": ((6, 8, 8, 8, 10), (1, 1, 0, 1, 0), THRESHOLDS),
    # classes >= 5, a small cell at the cutoff (net benefit published at the cutoff too)
    "tp_3_at_cutoff": ((3, 3, 3, 1, 2), NE40, (0.1, 0.2, 0.25, 0.3)),
    "fp_3_at_cutoff": ((2, 3, 3, 3, 6), (12, 12, 13, 2, 1), (0.1, 0.2, 0.25, 0.3)),
    "fn_2_at_0.1": ((2, 6, 6, 6, 6), NE40, THRESHOLDS),
    "tn_3_at_0.1": ((6, 6, 6, 6, 6), (3, 10, 10, 10, 10), THRESHOLDS),
    "tp_4_fp_4_at_0.3": ((5, 5, 5, 5, 4), (10, 10, 10, 10, 4), THRESHOLDS),
    "tp_3_at_0.37": ((6, 6, 6, 6, 3), (10, 10, 10, 10, 10), (0.1, 0.2, 0.37)),
    "fp_2_at_0.37": ((6, 6, 6, 6, 6), (10, 10, 10, 10, 2), (0.1, 0.2, 0.37)),
    # every table fine, few patients between two thresholds
    "2_events_between": ((6, 6, 2, 6, 6), (10, 10, 8, 8, 8), THRESHOLDS),
    "3_non_events_between": ((6, 6, 6, 6, 6), (10, 10, 10, 3, 10), THRESHOLDS),
    "nobody_between": ((6, 6, 0, 6, 6), (10, 10, 0, 8, 8), THRESHOLDS),
    # a site with nothing small: nothing withheld
    "large": ((10, 10, 10, 10, 10), (20, 20, 20, 20, 20), THRESHOLDS),
    # tiny sites
    "n5": ((0, 1, 0, 0, 1), (1, 1, 0, 1, 0), THRESHOLDS),
    "n8": ((0, 1, 1, 0, 2), (1, 2, 0, 1, 0), THRESHOLDS),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_small_count_can_be_derived(name: str) -> None:
    events, non_events, thresholds = SCENARIOS[name]
    rng = np.random.default_rng(7)
    y, p = _banded(events, non_events, rng, EDGES_37 if 0.37 in thresholds else EDGES)
    doc = _share(y, p, rng, thresholds=thresholds)
    nodes = sorted({CUTOFF, *thresholds})
    truth = _truth(y, p, nodes)
    assert _attack(doc, nodes, CUTOFF, truth) == []
    _released_guarantee(doc, truth, CUTOFF)
    if name == "large":
        assert doc["suppression"]["suppressed"] == []
    if name == "nobody_between":  # identical tables are one table: both released
        assert all(r["net_benefit"] is not None for r in doc["net_benefit"])
    # whatever is withheld is null and named, and nothing else is null
    for entry in doc["suppression"]["suppressed"]:
        block, _, key = entry.rpartition(".")
        where: Any = doc
        for part in block.replace("[", ".").replace("]", "").split(".") if block else []:
            where = where[int(part)] if part.isdigit() else where[part]
        assert where[key] is None, entry


def test_random_small_sites() -> None:
    """Many random small sites (1-12 events, 10-60 patients, random thresholds)."""
    rng = np.random.default_rng(2024)
    leaks: list[str] = []
    for _ in range(60):
        n = int(rng.integers(10, 61))
        events = int(rng.integers(1, min(12, n - 1) + 1))
        y = np.zeros(n, dtype=int)
        y[:events] = 1
        p = np.clip(rng.beta(2, 5, size=n) + 0.25 * y * rng.uniform(size=n), 0.01, 0.99)
        thresholds = tuple(sorted({round(float(t), 2) for t in rng.uniform(0.05, 0.5, 3)}))
        cutoff = float(rng.choice([0.2, 0.3, *thresholds]))
        doc = _share(y, p, rng, thresholds=thresholds, cutoff=cutoff)
        nodes = sorted({cutoff, *thresholds})
        truth = _truth(y, p, nodes)
        leaks += [f"n={n} events={events}: {x}" for x in _attack(doc, nodes, cutoff, truth)]
        _released_guarantee(doc, truth, cutoff)
    assert leaks == []


def test_the_attacker_recovers_counts_when_the_site_allows_small_cells() -> None:
    """The attacker is not blind: with disclosure control off (the site's decision) it
    recovers the small counts of the same sites."""
    for name in ("3_events", "2_non_events", "tp_3_at_cutoff", "tp_3_at_0.37"):
        events, non_events, thresholds = SCENARIOS[name]
        rng = np.random.default_rng(7)
        y, p = _banded(events, non_events, rng, EDGES_37 if 0.37 in thresholds else EDGES)
        doc = _share(y, p, rng, thresholds=thresholds, allow_small_cells=True)
        assert doc["suppression"] == {"min_cell": 5, "allowed": True, "suppressed": []}
        nodes = sorted({CUTOFF, *thresholds})
        assert _attack(doc, nodes, CUTOFF, _truth(y, p, nodes)), name


def test_fewer_patients_than_min_cell_share_nothing() -> None:
    y, p = np.array([1, 0, 1, 0]), np.array([0.2, 0.3, 0.6, 0.1])
    with pytest.raises(DataError, match="only 4 analysed patient"):
        build_share(y, p, site="tiny", cutoff=0.5)
    assert build_share(y, p, site="tiny", cutoff=0.5, allow_small_cells=True)["n"] == 4


def test_pool_leaves_out_what_a_site_withheld(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    paths = []
    for i, (ev, ne) in enumerate([((10, 10, 10, 10, 10), (20,) * 5),
                                  ((8, 8, 8, 8, 8), (25,) * 5),
                                  ((6, 7, 8, 9, 10), (15,) * 5),
                                  ((0, 1, 0, 0, 2), NE40)]):
        y, p = _banded(ev, ne, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RadvalWarning)
            doc = build_share(y, p, site=f"site{i}", cutoff=CUTOFF, signature_sha256="ab" * 32)
        paths.append(write_share(tmp_path / f"share_{i}.json", doc))
    out = pool_shares(paths, out=tmp_path / "pooled", figures=False, report_formats=())
    for name in ("auc", "calibration_slope", "citl", "o_e"):
        m = out["measures"][name]
        assert m["k"] == 3 and m["result"]["k"] == 3
        assert m["excluded"] == ["site3"] and m["suppressed"] == ["site3"]
    qmd = (tmp_path / "pooled" / "report" / "pooled.qmd").read_text()
    assert "site3" in qmd and "withheld by the site" in qmd
    assert "| site3 | 43 | - | - |" in qmd


# ------------------------------------------------------------------ time-to-event block
# Sites with events in the intervals [0, 12], (12, 24], (24, 36], (36, 60) and event-free
# patients followed to 60: no censoring before the last horizon, the worst case (the
# Kaplan-Meier risk at a horizon is then the share of patients with the event before it).
SURV_H = (12.0, 24.0, 36.0)
SURV_EDGES = (0.5, 12.0, 24.0, 36.0, 59.5)
SURV_BASE = np.array([0.85, 0.7, 0.6])
SURV_SCENARIOS: dict[str, tuple[tuple[int, int, int, int], int]] = {
    "2_events": ((0, 1, 1, 0), 40),
    "4_events": ((1, 1, 1, 1), 40),
    "3_event_free": ((10, 10, 10, 10), 3),
    "cases_1_at_12": ((1, 8, 6, 6), 20),
    "cases_3_at_12": ((3, 6, 6, 6), 20),
    "cases_4_at_12": ((4, 1, 6, 6), 20),
    "2_between_12_24": ((6, 2, 6, 6), 20),
    "4_between_24_36": ((6, 6, 4, 6), 20),
    "3_after_36": ((6, 6, 6, 3), 20),
    "1_after_36": ((8, 8, 8, 1), 20),
    "none_after_36": ((6, 6, 6, 0), 20),
    "none_between": ((8, 0, 8, 8), 20),
    "large": ((10, 10, 10, 10), 30),
}


def _surv_site(counts: Sequence[int], event_free: int, rng: np.random.Generator
               ) -> dict[str, Any]:
    t: list[float] = []
    e: list[int] = []
    for k, c in enumerate(counts):
        t += list(rng.uniform(SURV_EDGES[k] + 0.01, SURV_EDGES[k + 1] - 0.01, size=c))
        e += [1] * c
    t += [60.0] * event_free
    e += [0] * event_free
    tt, ee = np.asarray(t), np.asarray(e, dtype=float)
    marker = rng.normal(size=tt.size) + ee * (60.0 - tt) / 40.0
    risk = 1.0 - SURV_BASE[None, :] ** np.exp(marker)[:, None]
    return {"time": tt, "event": ee, "marker": marker, "risk": risk, "horizons": list(SURV_H),
            "time_unit": "months", "model": "signature"}


def _surv_share(site: dict[str, Any], rng: np.random.Generator, **kw: Any) -> dict[str, Any]:
    n = site["time"].size
    y = np.zeros(n, dtype=int)
    y[rng.permutation(n)[: n // 2]] = 1  # the binary endpoint: large classes
    p = np.clip(0.3 + 0.3 * y + rng.normal(scale=0.15, size=n), 0.01, 0.99)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RadvalWarning)
        doc = build_share(y, p, site="s1", cutoff=CUTOFF, thresholds=THRESHOLDS,
                          survival=site, **kw)
    return json.loads(json.dumps(doc))


def _surv_truth(site: dict[str, Any]) -> dict[str, int]:
    t, e = site["time"], site["event"]
    n, o = t.size, int(e.sum())
    d = [int(((t <= h) & (e == 1)).sum()) for h in SURV_H]
    out = {"events": o, "event_free": n - o}
    for h, dk in zip(SURV_H, d):
        out[f"cases@{h:g}"] = dk
        out[f"controls@{h:g}"] = n - dk
    for (a, da), (b, db) in zip(zip(SURV_H, d), list(zip(SURV_H, d))[1:]):
        if db - da:  # nobody between two horizons: nobody to disclose
            out[f"events({a:g},{b:g}]"] = db - da
    if o - d[-1]:
        out[f"events>{SURV_H[-1]:g}"] = o - d[-1]
    return out


def _surv_attack(doc: dict[str, Any], site: dict[str, Any]) -> list[str]:
    """Protected survival counts below MIN_CELL that the file narrows to <= 3 values.

    The attacker knows n, the horizons, that nobody was censored before the last horizon,
    and (worst case) each horizon's mean predicted risk.
    """
    s = doc["survival"]
    n = doc["n"]
    truth = _surv_truth(site)
    o_true = truth["events"]
    mean_risk = site["risk"].mean(axis=0)
    if s["events"] is not None:
        sides = [{s["events"]}]
    elif doc["suppression"]["allowed"]:
        sides = [set(range(n + 1))]
    else:  # withheld: one side is small, and the attacker is told which
        sides = [x for x in ({o for o in range(n + 1) if o < MIN_CELL},
                             {o for o in range(n + 1) if n - o < MIN_CELL}) if o_true in x]
    cands: list[set[int]] = []
    for k, row in enumerate(s["horizons"]):
        c = set(range(n + 1))

        def keep(ok: Any, c: set[int] = c) -> None:
            c.intersection_update({d for d in c if ok(d)})

        if row["o_e"] is not None:
            keep(lambda d, k=k, r=row: abs(r["o_e"] * mean_risk[k] * n - d) < 1e-6 * n)
        if row["log_o_e_se"] is not None:
            se2 = row["log_o_e_se"] ** 2
            keep(lambda d, se2=se2: abs(n / (1 + n * se2) - d) < 1e-6 * n)
        if row["brier"] is not None and row["ipa"] is not None and row["ipa"] < 1:
            b0 = row["brier"] / (1 - row["ipa"])
            roots = [(1 + sg * math.sqrt(max(1 - 4 * b0, 0.0))) / 2 for sg in (1, -1)]
            keep(lambda d, roots=roots: any(abs(n * (1 - sr) - d) < 1e-6 * n for sr in roots))
        if row["auc"] is not None:
            keep(lambda d, a=row["auc"]: abs(2 * a * d * (n - d)
                                             - round(2 * a * d * (n - d))) < 1e-6)
        cands.append(c)
    leaks: list[str] = []
    for side in sides:
        # chain d(12) <= d(24) <= d(36) <= events: interval propagation is exact on a chain
        nodes = [set(c) for c in cands] + [set(side)]
        for k in range(1, len(nodes)):
            lo = min(nodes[k - 1]) if nodes[k - 1] else n + 1
            nodes[k] = {v for v in nodes[k] if v >= lo}
        for k in range(len(nodes) - 2, -1, -1):
            hi = max(nodes[k + 1]) if nodes[k + 1] else -1
            nodes[k] = {v for v in nodes[k] if v <= hi}
        assert all(nodes), "attacker unsound: no consistent counts"
        ranges: dict[str, tuple[int, int]] = {
            "events": (min(nodes[-1]), max(nodes[-1])),
            "event_free": (n - max(nodes[-1]), n - min(nodes[-1]))}
        for h, c in zip(SURV_H, nodes):
            ranges[f"cases@{h:g}"] = (min(c), max(c))
            ranges[f"controls@{h:g}"] = (n - max(c), n - min(c))
        labels = [f"events({a:g},{b:g}]" for a, b in zip(SURV_H, SURV_H[1:])]
        labels.append(f"events>{SURV_H[-1]:g}")
        for k, name in enumerate(labels):
            diffs = [v - u for u in nodes[k] for v in nodes[k + 1] if v >= u]
            ranges[name] = (min(diffs), max(diffs))
        for name, value in truth.items():
            lo, hi = ranges[name]
            assert lo <= value <= hi, f"attacker unsound for {name}"
            if value < MIN_CELL and hi - lo <= 2:
                leaks.append(f"{name} = {value} narrowed to {lo}..{hi}")
    return leaks


def _surv_guarantee(doc: dict[str, Any], site: dict[str, Any]) -> None:
    """Every count a released value rests on, and between released nodes, is 0 or >= 5."""
    s = doc["survival"]
    truth = _surv_truth(site)
    n, o = site["time"].size, truth["events"]
    released = [k for k, r in enumerate(s["horizons"]) if r["auc"] is not None
                or r["o_e"] is not None or r["brier"] is not None]
    if released or s["events"] is not None or s["c_harrell"] is not None:
        assert min(o, n - o) >= MIN_CELL
    d = [truth[f"cases@{h:g}"] for h in SURV_H]
    chain = [d[k] for k in released] + [o]
    for k in released:
        assert min(d[k], n - d[k]) >= MIN_CELL, SURV_H[k]
    for a, b in itertools.combinations(chain, 2):
        assert b - a == 0 or abs(b - a) >= MIN_CELL, (a, b)


@pytest.mark.parametrize("name", sorted(SURV_SCENARIOS))
def test_no_small_survival_count_can_be_derived(name: str) -> None:
    counts, event_free = SURV_SCENARIOS[name]
    rng = np.random.default_rng(11)
    site = _surv_site(counts, event_free, rng)
    doc = _surv_share(site, rng)
    assert _surv_attack(doc, site) == []
    _surv_guarantee(doc, site)
    surv_withheld = [x for x in doc["suppression"]["suppressed"] if x.startswith("survival")]
    if name == "large":
        assert surv_withheld == [] and doc["survival"]["events"] == 40
    if name in ("2_events", "4_events", "3_event_free"):
        assert doc["survival"]["events"] is None and doc["survival"]["c_harrell"] is None
        assert all(r["auc"] is None for r in doc["survival"]["horizons"])
    if name == "none_between":  # no event between 12 and 24: both released
        assert doc["survival"]["horizons"][1]["auc"] is not None
    for entry in surv_withheld:  # withheld is null and named
        block, _, key = entry.rpartition(".")
        where: Any = doc
        for part in block.replace("[", ".").replace("]", "").split("."):
            where = where[int(part)] if part.isdigit() else where[part]
        assert where[key] is None, entry


def test_random_small_survival_sites() -> None:
    rng = np.random.default_rng(99)
    leaks: list[str] = []
    for _ in range(40):
        counts = tuple(int(c) for c in rng.integers(0, 9, size=4))
        event_free = int(rng.integers(2, 30))
        if sum(counts) + event_free < 10:
            continue
        site = _surv_site(counts, event_free, rng)
        doc = _surv_share(site, rng)
        leaks += [f"{counts}+{event_free}: {x}" for x in _surv_attack(doc, site)]
        _surv_guarantee(doc, site)
    assert leaks == []


def test_the_attacker_recovers_survival_counts_when_small_cells_are_allowed() -> None:
    for name in ("cases_3_at_12", "2_between_12_24", "3_after_36"):
        counts, event_free = SURV_SCENARIOS[name]
        rng = np.random.default_rng(11)
        site = _surv_site(counts, event_free, rng)
        doc = _surv_share(site, rng, allow_small_cells=True)
        assert not [x for x in doc["suppression"]["suppressed"] if x.startswith("survival")]
        assert _surv_attack(doc, site), name
