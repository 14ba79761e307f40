"""What a worker process runs for one manifest row: read, check, extract.

The functions here are sent to worker processes by :func:`radval.features.executor.map_cases`
(pickled by reference: the worker imports this module).  The module therefore imports only
what a worker needs (numpy, SimpleITK and PyRadiomics on first use), never pandas, pyarrow or
the output writers of :mod:`radval.features.extract`: every spawned or Dask worker pays for each
module imported here before it runs its first case.
"""

from __future__ import annotations

from typing import Any

from radval.features.checks import CheckSettings, check_case, check_loaded, load_case, problem
from radval.features.radiomics import ParamFile, extract_case

__all__ = ["PRELOAD", "check_task", "extract_task"]

#: Modules a worker imports before its first case (:mod:`radval.features.executor` imports
#: them once in its fork server, see ``_pool_context``).
PRELOAD = ("radval.features._worker", "radval.io.images", "SimpleITK",
           "radiomics.featureextractor")


def check_task(task: dict[str, Any]) -> list[dict[str, Any]]:
    """The checks of one row (``task``: ``{"row", "settings"}``); failures-table records."""
    settings = CheckSettings(**task["settings"])
    return check_case(task["row"], settings=settings)


def extract_task(task: dict[str, Any]) -> dict[str, Any]:
    """Read, check and extract one row.

    ``task`` holds ``row`` (a manifest row), ``settings`` (:class:`CheckSettings` fields),
    ``params_path`` and ``params_sha256`` (the parameter file, whose hash must not have
    changed since the run started).  Returns ``{"problems": [...]}`` or
    ``{"names", "values", "diagnostics"}``.
    """
    row = task["row"]
    settings = CheckSettings(**task["settings"])
    image, mask, problems = load_case(row)
    if problems or image is None or mask is None:
        return {"problems": problems}
    problems = check_loaded(row, image, mask, settings)
    if problems:
        return {"problems": problems}
    params = ParamFile(task["params_path"])
    if params.sha256 != task["params_sha256"]:
        return {"problems": [problem(row, "extract", "the parameter file changed during the run")]}
    try:
        feats, diags = extract_case(image, mask, params=params, label=int(row["label"]))
    except Exception as exc:  # noqa: BLE001 - PyRadiomics raises ValueError/RuntimeError/...
        msg = str(exc).strip().splitlines()
        return {"problems": [problem(row, "extract", f"PyRadiomics failed: {type(exc).__name__}: "
                                     f"{msg[-1] if msg else ''}")]}
    return {"names": list(feats), "values": list(feats.values()), "diagnostics": diags}
