"""Writing the report's figures: :func:`save` (SVG, PDF, PNG) and
:class:`PendingFigures`, the figures while worker processes draw and write them.

Kept apart from :mod:`radval.report.figures` (what each figure shows); both are re-exported
there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from radval.exceptions import OutputError
from radval.report._escape import md_identifier
from radval.report._plots import style

__all__ = ["SAVE_OPTIONS", "PendingFigures", "save"]

logger = logging.getLogger("radval.report.figures")

_Drawn = tuple[str, "Path | None | str"]


#: Formats written by :func:`save` and the PNG resolution (changed only by tests).
SAVE_OPTIONS: dict[str, Any] = {"formats": ("svg", "pdf", "png"), "dpi": 300}


def save(fig: Any, out_dir: str | Path, name: str) -> Path:
    """Save ``fig`` as ``name.svg``, ``name.pdf`` and ``name.png`` (300 dpi).

    The formats and dpi come from :data:`SAVE_OPTIONS`; the PNG is always written
    because the DOCX embeds it (HTML and PDF use the SVG when it exists).  The files are
    byte-reproducible: no dates, a fixed SVG hash salt.
    """
    out = Path(out_dir)
    name = md_identifier(name)  # a plain file-name stem whatever the caller passed
    out.mkdir(parents=True, exist_ok=True)
    formats = set(SAVE_OPTIONS["formats"]) | {"png"}
    with style():
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(fig)  # a figure of its own: no pyplot, no backend switch
        bbox = fig.get_tightbbox(canvas.get_renderer()).padded(0.08)
        if "svg" in formats:
            fig.savefig(out / f"{name}.svg", bbox_inches=bbox, metadata={"Date": None})
        if "pdf" in formats:
            fig.savefig(out / f"{name}.pdf", bbox_inches=bbox,
                        metadata={"CreationDate": None})
        fig.savefig(out / f"{name}.png", dpi=int(SAVE_OPTIONS["dpi"]), bbox_inches=bbox,
                    metadata={"Software": None})
    return out / f"{name}.png"


def _save_pickled(blob: bytes, out_dir: str, name: str) -> Path:
    """Worker: :func:`save` a figure built in the report's process (pickled there)."""
    import pickle

    return save(pickle.loads(blob), out_dir, name)  # noqa: S301 - the report's own bytes


class PendingFigures(MutableMapping[str, "Path | None | str"]):
    """The report's figures while worker processes draw them (:func:`start_figures`).

    Which labels exist is known at once; looking one up waits for that figure only, so
    the sections are written (and draw their own figures) while the workers draw the
    rest.  Results set by the sections (``pending[label] = png``) are kept beside them.
    The figures the sections build are written by the workers too (:meth:`save`):
    writing SVG, PDF and PNG is most of a figure's cost.  Use as a context manager, or
    call :meth:`close`: it waits for every figure and stops the workers (on an error,
    it cancels what has not started).  If a worker process dies, ``redraw(label)``
    draws its figures here instead, and the figures to write are written here.
    """

    def __init__(self, futures: Mapping[str, Any] | None = None, pool: Any = None,
                 done: Mapping[str, Path | None | str] | None = None, *,
                 redraw: Callable[[str], _Drawn] | None = None) -> None:
        self._futures = dict(futures or {})
        self._pool = pool
        self._done: dict[str, Path | None | str] = dict(done or {})
        self._saves: list[tuple[str, bytes, str, Any]] = []
        self._redraw = redraw
        self._broken = False

    def _lost(self) -> None:
        if not self._broken:
            logger.warning("report figures: a worker process died; its figures are drawn "
                           "in this process")
        self._broken = True

    @property
    def workers(self) -> bool:
        """Whether worker processes draw and write the figures (else the caller does)."""
        return self._pool is not None

    def save(self, fig: Any, out_dir: str | Path, name: str) -> Path:
        """:func:`save` ``fig`` in a worker when there are workers, else here; the PNG's
        path, whose files exist once :meth:`close` has returned.

        The figure travels pickled (matplotlib figures are picklable; the files are the
        same to the byte).  A save that fails makes :meth:`close` raise: the document
        already refers to the figure.
        """
        if self._pool is None or self._broken:
            return save(fig, out_dir, name)
        import pickle
        from concurrent.futures.process import BrokenProcessPool

        blob = pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            fut = self._pool.submit(_save_pickled, blob, str(out_dir), name)
        except BrokenProcessPool:
            self._lost()
            return save(fig, out_dir, name)
        self._saves.append((name, blob, str(out_dir), fut))
        return Path(out_dir) / f"{md_identifier(name)}.png"

    def __getitem__(self, label: str) -> Path | None | str:
        if label not in self._done:
            if label not in self._futures:
                raise KeyError(label)
            from concurrent.futures.process import BrokenProcessPool

            fut = self._futures.pop(label)
            try:
                name, res = fut.result()
            except BrokenProcessPool:
                if self._redraw is None:
                    raise
                self._lost()
                name, res = self._redraw(label)
            self._done[name] = res
        return self._done[label]

    def __setitem__(self, label: str, value: Path | None | str) -> None:
        self._futures.pop(label, None)
        self._done[label] = value

    def __delitem__(self, label: str) -> None:
        self[label]  # a figure being drawn is waited for: its files exist afterwards
        del self._done[label]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._done, *(k for k in self._futures if k not in self._done)])

    def __len__(self) -> int:
        return len(set(self._done) | set(self._futures))

    def __contains__(self, label: object) -> bool:
        return label in self._done or label in self._futures

    def close(self, *, cancel: bool = False) -> dict[str, Path | None | str]:
        """Wait for every figure (or, with ``cancel``, drop those not started) and stop
        the workers; the figures drawn, by label."""
        from concurrent.futures.process import BrokenProcessPool

        failed: list[str] = []
        errno: int | None = None
        try:
            if not cancel:
                for label in list(self._futures):
                    self[label]
                for name, blob, out_dir, fut in self._saves:
                    try:
                        try:
                            fut.result()
                        except BrokenProcessPool:
                            self._lost()
                            _save_pickled(blob, out_dir, name)
                    except Exception as exc:  # noqa: BLE001 - reported below, every one
                        failed.append(f"{name} ({type(exc).__name__}: {exc})")
                        errno = errno or getattr(exc, "errno", None)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=cancel)
                self._pool = None
            self._futures.clear()
            self._saves.clear()
        if failed:
            raise OutputError(f"report figures could not be written: {'; '.join(failed)}",
                              errno=errno)
        return dict(self._done)

    def __enter__(self) -> PendingFigures:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.close(cancel=exc_type is not None)
