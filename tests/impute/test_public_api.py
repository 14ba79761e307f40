"""The new subpackages are lazy, light and export what they document."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_impute_and_harmonize_is_light() -> None:
    code = (
        "import sys, radval, radval.impute, radval.harmonize, radval.stats\n"
        "radval.impute.ChainedImputer, radval.impute.DeploymentImputer, radval.harmonize.ComBat\n"
        "radval.stats.rubin_pool\n"
        "heavy = [m for m in ('torch', 'radiomics', 'SimpleITK', 'matplotlib', 'sklearn', 'dask')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("package", ["radval.impute", "radval.harmonize"])
def test_every_export_resolves(package: str) -> None:
    import importlib

    mod = importlib.import_module(package)
    for name in mod.__all__:
        assert getattr(mod, name) is not None
    with pytest.raises(AttributeError):
        mod.not_a_name  # noqa: B018
    import radval

    assert getattr(radval, package.split(".")[1]) is mod
