"""Plotting primitives take tidy data and ``ax=``; drawing never changes global state."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")

from radval.report import plot_calibration, plot_decision_curve, plot_km, plot_roc  # noqa: E402
from tests.report.fixtures import make_results  # noqa: E402


def _curves(name: str) -> pd.DataFrame:
    res, _ = make_results(seed=5)
    df = pd.DataFrame(res["curves"][name])
    return df[df["cohort"] == "development"]


def test_primitives_draw_into_the_callers_axes() -> None:
    from matplotlib.figure import Figure

    fig = Figure()
    a, b, c, d = fig.subplots(1, 4)
    roc = _curves("roc")
    assert plot_roc(roc, auc={"radiomics": 0.81}, ax=a) is a
    labels = [t.get_text() for t in a.get_legend().get_texts()]
    assert "radiomics 0.81" in labels and len(a.get_lines()) == roc["model"].nunique() + 1
    grouped = _curves("calibration_grouped")
    grouped = grouped[grouped["model"] == "radiomics"]
    assert plot_calibration(grouped, metrics={"slope": 0.9}, ax=b) is b
    assert "slope 0.90" in b.texts[0].get_text()
    dca = _curves("decision")
    assert plot_decision_curve(dca, labels={"radiomics": "Rad-score"}, ax=c) is c
    assert "Rad-score" in [t.get_text() for t in c.get_legend().get_texts()]
    km = pd.DataFrame({"group": ["low"] * 3 + ["high"] * 3, "time": [0, 5, 9, 0, 2, 7],
                       "survival": [1, 0.9, 0.8, 1, 0.6, 0.4], "at_risk": [10, 8, 5, 10, 6, 2]})
    assert plot_km(km, ax=d) is d
    assert len(d.get_lines()) == 2


def test_without_ax_a_figure_of_its_own_and_text_is_literal() -> None:
    roc = _curves("roc").assign(model="$\\input{/etc/passwd}$")
    ax = plot_roc(roc)
    from matplotlib.figure import Figure

    assert isinstance(ax.figure, Figure)
    label = ax.get_legend().get_texts()[0].get_text()
    assert "\\$" in label  # drawn literally, never as mathtext


def test_drawing_every_report_figure_changes_no_global_state(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    import matplotlib.pyplot as plt

    from radval.report import figures

    monkeypatch.setitem(figures.SAVE_OPTIONS, "formats", ("png",))
    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 30)
    results, pred = make_results(seed=5)
    before = copy.deepcopy(dict(matplotlib.rcParams))
    backend = matplotlib.get_backend()
    open_figures = plt.get_fignums()
    out = figures.draw_all(results, pred, tmp_path, jobs=1)
    drawn = [k for k, v in out.items() if isinstance(v, Path)]
    assert {"fig-roc", "fig-calibration", "fig-dca", "fig-km", "fig-forest"} <= set(drawn)
    assert not [k for k, v in out.items() if isinstance(v, str)], out
    after = dict(matplotlib.rcParams)
    changed = {k for k in before if not np.array_equal(np.asarray(before[k], dtype=object),
                                                       np.asarray(after[k], dtype=object))}
    assert not changed
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == open_figures  # no pyplot figure left behind


def test_pending_figures_wait_for_one_figure_and_close_waits_for_all() -> None:
    """The sections are written while workers draw: a lookup waits for that figure only,
    a figure drawn by a section is kept beside them, and close() returns every figure."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from radval.report.figures import PendingFigures

    release = threading.Event()

    def slow(name: str) -> tuple[str, str]:
        release.wait(5)
        return name, f"{name}.png"

    pool = ThreadPoolExecutor(max_workers=2)
    futures = {"fig-a": pool.submit(lambda: ("fig-a", "fig-a.png")),
               "fig-b": pool.submit(slow, "fig-b")}
    pending = PendingFigures(futures, pool)
    assert "fig-a" in pending and "fig-b" in pending and "fig-c" not in pending
    assert pending["fig-a"] == "fig-a.png"
    assert not futures["fig-b"].done()  # fig-a did not wait for fig-b
    pending["fig-c"] = None  # drawn by a section
    assert len(pending) == 3 and sorted(pending) == ["fig-a", "fig-b", "fig-c"]
    release.set()
    assert pending.close() == {"fig-a": "fig-a.png", "fig-b": "fig-b.png", "fig-c": None}
    with pytest.raises(KeyError):
        pending["fig-d"]


def test_pending_figures_cancel_what_has_not_started_on_an_error() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from radval.report.figures import PendingFigures

    pool = ThreadPoolExecutor(max_workers=1)
    release = threading.Event()
    first = pool.submit(lambda: (release.wait(5), ("fig-a", "a.png"))[1])
    queued = pool.submit(lambda: ("fig-b", "b.png"))
    with pytest.raises(RuntimeError), PendingFigures({"fig-a": first, "fig-b": queued}, pool):
        threading.Timer(0.3, release.set).start()  # the running figure ends after the error
        raise RuntimeError("a section failed")
    assert queued.cancelled()  # never started
    assert first.done()  # the running one was waited for: no worker left behind


def _section_figure() -> Any:
    from radval.report._plots import new_figure, style

    with style():
        fig, ax = new_figure(figsize=(3, 2))
        ax.plot([0, 1, 2], [0.2, 0.5, 0.4], label="combined")
        ax.set_title("A section's figure")
        ax.legend()
    return fig


def test_a_section_figure_written_by_a_worker_is_the_same_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PendingFigures.save: a figure built in the report's process is pickled to a worker
    process, which writes SVG, PDF and PNG identical to the files written in place."""
    from radval.features.executor import WorkerPool
    from radval.report import figures

    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 60)
    here = figures.save(_section_figure(), tmp_path / "here", "fig-x")
    pool = WorkerPool(2, initializer=figures._init_worker,
                      initargs=(dict(figures.SAVE_OPTIONS),)).executor()
    pending = figures.PendingFigures({}, pool)
    png = pending.save(_section_figure(), tmp_path / "worker", "fig-x")
    assert png == tmp_path / "worker" / "fig-x.png"
    pending.close()
    for ext in ("svg", "pdf", "png"):
        assert (tmp_path / "worker" / f"fig-x.{ext}").read_bytes() == \
            here.with_suffix(f".{ext}").read_bytes(), ext


def test_a_section_figure_that_cannot_be_written_fails_the_report(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from radval.exceptions import OutputError
    from radval.report import figures

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    pending = figures.PendingFigures({}, ThreadPoolExecutor(max_workers=1))
    pending.save(_section_figure(), blocked / "figures", "fig-broken")
    with pytest.raises(OutputError, match="fig-broken"):
        pending.close()


def test_a_dead_figure_worker_leaves_its_figures_to_the_report_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    """A worker process that dies (crash, out-of-memory killer) breaks the pool: the
    figures it had not returned are drawn in the report's process, and the figures the
    sections hand over afterwards, or had handed over, are written there."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from radval.features.executor import WorkerPool
    from radval.report import figures

    monkeypatch.setitem(figures.SAVE_OPTIONS, "dpi", 40)
    pool = WorkerPool(2, initializer=figures._init_worker,
                      initargs=(dict(figures.SAVE_OPTIONS),)).executor()
    dies = pool.submit(os._exit, 1)  # the worker process ends without a word
    redrawn: list[str] = []

    def redraw(label: str) -> tuple[str, str]:
        redrawn.append(label)
        return label, f"{label}.png"

    pending = figures.PendingFigures({"fig-a": dies}, pool, redraw=redraw)
    with caplog.at_level("WARNING"):
        assert pending["fig-a"] == "fig-a.png"
    assert redrawn == ["fig-a"] and "worker process died" in caplog.text
    png = pending.save(_section_figure(), tmp_path / "after", "fig-x")
    assert pending.close() == {"fig-a": "fig-a.png"}
    assert png.is_file() and png.with_suffix(".pdf").is_file()

    class _Broken:  # a save handed to a worker that then died
        def submit(self, *_: Any) -> Future[None]:
            fut: Future[None] = Future()
            fut.set_exception(BrokenProcessPool("a worker died"))
            return fut

        def shutdown(self, **_: Any) -> None:
            return None

    pending = figures.PendingFigures({}, _Broken())
    png = pending.save(_section_figure(), tmp_path / "before", "fig-y")
    assert not png.exists()
    pending.close()
    assert png.is_file() and png.with_suffix(".svg").is_file()
