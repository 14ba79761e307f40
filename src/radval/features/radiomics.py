"""PyRadiomics on one case: parameter files, feature names, diagnostics.

radval calls :class:`radiomics.featureextractor.RadiomicsFeatureExtractor` with a PyRadiomics
parameter file, unchanged (the shipped ``gu2023_ct.yaml`` by default, any user file otherwise),
on the SimpleITK image and mask read by :mod:`radval.io.images`.  The values are exactly those
of calling the extractor directly on the same files.

Feature names
-------------
PyRadiomics names a feature ``<imagetype>_<class>_<feature>``: ``original_glcm_Contrast``,
``log-sigma-1-0-mm-3D_firstorder_Mean``, ``wavelet-LLH_glcm_Idm``.  radval prefixes
``radiomics_`` (``radiomics_original_glcm_Contrast``) and keeps PyRadiomics' spelling otherwise.
Entries starting with ``diagnostics_`` (versions, settings, image and mask hashes, spacing,
bounding box, voxel counts) are provenance and go to a separate table.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radval.exceptions import ConfigError, MissingInputError

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = [
    "DEFAULT_PARAMS",
    "IBSI_PARAMS",
    "PREFIX",
    "ParamFile",
    "default_params_path",
    "extract_case",
    "get_extractor",
    "param_setting",
    "radiomics_name",
    "resolve_params",
    "shipped_params",
    "split_result",
]

#: Shipped default parameter file (the built-in study's CT settings).
DEFAULT_PARAMS = "gu2023_ct.yaml"
#: Shipped IBSI-aligned parameter file for the IBSI-1 digital phantom.
IBSI_PARAMS = "ibsi_phantom.yaml"
#: Prefix of radiomics feature columns.
PREFIX = "radiomics_"

_EXTRACTORS: dict[str, Any] = {}


def shipped_params() -> dict[str, Path]:
    """Names and paths of the parameter files shipped in ``radval/features/params``."""
    folder = Path(str(resources.files("radval.features") / "params"))
    return {p.name: p for p in sorted(folder.glob("*.yaml"))}


def default_params_path() -> Path:
    """Path of the shipped default parameter file (:data:`DEFAULT_PARAMS`)."""
    return shipped_params()[DEFAULT_PARAMS]


class ParamFile:
    """A PyRadiomics parameter file: path, text and SHA-256 of its bytes.

    Parameters
    ----------
    path : path
        The YAML file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        data = self.path.read_bytes()
        self.text = data.decode("utf-8")
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.name = self.path.name

    def __repr__(self) -> str:
        return f"ParamFile({self.name!r}, sha256={self.sha256[:12]}...)"


def resolve_params(params: str | os.PathLike[str] | ParamFile | None = None) -> ParamFile:
    """Resolve ``params`` to a :class:`ParamFile` and validate it with PyRadiomics.

    Parameters
    ----------
    params : str, path or ParamFile, optional
        ``None`` for the shipped default (:data:`DEFAULT_PARAMS`), a shipped name
        (``"gu2023_ct.yaml"``, ``"ibsi_phantom.yaml"``, with or without ``.yaml``) or the path of
        a PyRadiomics YAML/JSON parameter file.

    Raises
    ------
    MissingInputError
        The file does not exist.
    ConfigError
        PyRadiomics rejects the file (the message repeats its schema error).
    """
    if isinstance(params, ParamFile):
        return params
    shipped = shipped_params()
    if params is None:
        pf = ParamFile(shipped[DEFAULT_PARAMS])
    else:
        text = os.fspath(params)
        key = text if text.endswith(".yaml") else f"{text}.yaml"
        if not Path(text).exists() and key in shipped:
            pf = ParamFile(shipped[key])
        elif not Path(text).exists():
            raise MissingInputError(f"parameter file not found: {text} (shipped: "
                                    f"{', '.join(shipped)})")
        else:
            pf = ParamFile(text)
    get_extractor(pf)  # validates
    return pf


def param_setting(params: ParamFile, name: str, default: Any = None) -> Any:
    """The value of ``setting: {name: ...}`` in a parameter file (``default`` when absent).

    Read from the file's text (YAML or JSON) without building an extractor.
    """
    import yaml

    try:
        data = yaml.safe_load(params.text)
    except yaml.YAMLError:
        return default
    settings = data.get("setting") if isinstance(data, Mapping) else None
    if not isinstance(settings, Mapping) or settings.get(name) is None:
        return default
    return settings[name]


def get_extractor(params: ParamFile) -> Any:
    """A RadiomicsFeatureExtractor for ``params``, cached per process by file hash."""
    key = f"{params.path}:{params.sha256}"
    ex = _EXTRACTORS.get(key)
    if ex is None:
        quiet_radiomics()
        from radiomics import featureextractor

        try:
            ex = featureextractor.RadiomicsFeatureExtractor(str(params.path))
        except Exception as exc:  # noqa: BLE001 - pykwalify / yaml errors of many types
            msg = str(exc).strip().splitlines()
            raise ConfigError(f"PyRadiomics rejects the parameter file {params.name}: "
                              f"{' '.join(m.strip() for m in msg[-3:])}") from exc
        _EXTRACTORS[key] = ex
    return ex


def quiet_radiomics() -> None:
    """Silence PyRadiomics' own stderr handler below ERROR (it adds one at import)."""
    import radiomics

    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)


def radiomics_name(pyradiomics_name: str) -> str:
    """``original_glcm_Contrast`` -> ``radiomics_original_glcm_Contrast``."""
    return PREFIX + pyradiomics_name


def split_result(result: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """Split PyRadiomics' ordered result into renamed features and diagnostics.

    Returns
    -------
    features : dict
        ``radiomics_<imagetype>_<class>_<feature>`` -> float, in PyRadiomics' order.
    diagnostics : dict
        ``diagnostics_*`` -> JSON-safe value (tuples become lists, numpy scalars Python).
    """
    import numpy as np

    from radval._results import jsonable

    feats: dict[str, float] = {}
    diags: dict[str, Any] = {}
    for k, v in result.items():
        if k.startswith("diagnostics_"):
            diags[k] = jsonable(list(v) if isinstance(v, tuple) else
                                v.tolist() if isinstance(v, np.ndarray) else v)
        else:
            feats[radiomics_name(k)] = float(v)
    return feats, diags


def extract_case(image: sitk.Image, mask: sitk.Image, *, params: ParamFile,
                 label: int = 1) -> tuple[dict[str, float], dict[str, Any]]:
    """Extract the radiomics features of one case.

    Parameters
    ----------
    image, mask : SimpleITK.Image
        CT image and mask on the same grid.
    params : ParamFile
        From :func:`resolve_params`.
    label : int, optional
        Mask label (overrides the parameter file's ``label`` setting, as PyRadiomics'
        ``execute(..., label=)`` does).

    Returns
    -------
    features, diagnostics : dict
        See :func:`split_result`.
    """
    ex = get_extractor(params)
    result = ex.execute(image, mask, label=int(label))
    return split_result(result)
