"""Imported once by radval's fork server before it forks any worker (Linux).

:func:`radval.features.executor.map_cases` forks its workers from a server process that has
imported the modules of :data:`radval.features.executor.PRELOAD` (the feature extraction
worker: numpy, SimpleITK, PyRadiomics), so that no worker imports them again.  A module that
fails to import is skipped here, whatever the error (multiprocessing's own preloading stops the
server at anything but ``ImportError``): the worker that needs it then reports the error for
its case, and workers that do not need it run as usual.
"""

from __future__ import annotations

import contextlib
import importlib

from radval.features.executor import PRELOAD

for _name in PRELOAD:
    with contextlib.suppress(Exception):
        importlib.import_module(_name)
