"""Errors, warnings and exit codes of radval: one tree, one module.

Exception tree::

    RadvalError(Exception)
    ├── InputError(RadvalError, ValueError)          bad values passed to a public function
    │   ├── SchemaError(InputError)                  a table broke its data-dictionary schema
    │   ├── DataError(InputError)                    data that cannot be analysed (one class, ...)
    │   └── ContractError(InputError)                an artifact (results.json, signature.json,
    │                                                share.json, ...) breaks its typed definition
    ├── ConfigError(RadvalError, ValueError)         bad study file / parameter file
    ├── MissingInputError(RadvalError, FileNotFoundError)  a named file/folder is absent
    ├── ExtractionError(RadvalError)                 feature extraction failed for a case
    ├── BundleError(RadvalError, ValueError)         bundle modified, incomplete or incompatible
    │   └── BundleSignatureError(BundleError)        bundle unsigned / signed by another key
    ├── NotFittedError(RadvalError, ValueError, AttributeError)
    └── PartialFailureError(RadvalError)             some cases failed; everything else was written

    RadvalWarning(UserWarning)
    ├── UndefinedMetricWarning                       metric undefined (one class, zero denominator)
    ├── DegenerateBootstrapWarning                   resamples dropped / degenerate distribution
    ├── SmallSampleWarning                           n or events too small for the method
    ├── ConvergenceWarning                           an iterative fit did not converge
    ├── DatasetShiftWarning                          validation data unlike development data
    ├── PredictorTimingWarning                       post-operative predictor, pre-operative model
    ├── HorizonWarning                               horizon beyond the last event / the follow-up
    └── HarmonizationWarning                         ComBat left a feature unadjusted / small site

Exit codes of the command line (documented in the README) are attached to the
error classes through :func:`exit_code_for`.
"""

from __future__ import annotations

__all__ = [
    "EXIT_CONFIG",
    "EXIT_DATAERR",
    "EXIT_ERROR",
    "EXIT_NOINPUT",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_SOFTWARE",
    "EXIT_STALE",
    "EXIT_USAGE",
    "BundleError",
    "BundleSignatureError",
    "ConfigError",
    "ContractError",
    "ConvergenceWarning",
    "DataError",
    "DatasetShiftWarning",
    "DegenerateBootstrapWarning",
    "ExtractionError",
    "HorizonWarning",
    "HarmonizationWarning",
    "InputError",
    "MissingInputError",
    "NotFittedError",
    "PartialFailureError",
    "PredictorTimingWarning",
    "RadvalError",
    "RadvalWarning",
    "SchemaError",
    "SmallSampleWarning",
    "UndefinedMetricWarning",
    "exit_code_for",
]

#: Success.
EXIT_OK = 0
#: Unexpected error (a bug): please report it.
EXIT_ERROR = 1
#: Usage error: unknown command or option, missing argument (argparse).
EXIT_USAGE = 2
#: ``radval report --check``: the results are out of date (an input changed since the run)
#: or were written by an incompatible radval; run the analysis again.
EXIT_STALE = 3
#: Some cases (patients) failed; everything that succeeded was written.
EXIT_PARTIAL = 4
#: Input data failed validation (EX_DATAERR).
EXIT_DATAERR = 65
#: A named input file or folder is missing (EX_NOINPUT).
EXIT_NOINPUT = 66
#: Internal software error (EX_SOFTWARE).
EXIT_SOFTWARE = 70
#: Bad configuration: study file or parameter file (EX_CONFIG).
EXIT_CONFIG = 78


class RadvalError(Exception):
    """Base class of every error radval raises on purpose."""

    exit_code: int = EXIT_ERROR


class InputError(RadvalError, ValueError):
    """A public function received a value it cannot use."""

    exit_code = EXIT_DATAERR


class SchemaError(InputError):
    """A table does not follow its data-dictionary schema.

    ``errors`` holds one dict per problem with keys ``table``, ``row``,
    ``column``, ``value``, ``rule`` and ``message``.
    """

    def __init__(self, message: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.errors: list[dict[str, object]] = list(errors or [])


class DataError(InputError):
    """The data cannot support the requested analysis (e.g. one outcome class)."""


class ContractError(InputError):
    """An artifact file does not follow its typed definition (:mod:`radval.contracts`):
    written by another radval version or edited by hand; the message names the field."""


class ConfigError(RadvalError, ValueError):
    """A study file or parameter file is invalid; the message names the key."""

    exit_code = EXIT_CONFIG


class MissingInputError(RadvalError, FileNotFoundError):
    """A file or folder named by the user does not exist."""

    exit_code = EXIT_NOINPUT


class ExtractionError(RadvalError):
    """Feature extraction failed for one case; the message names patient and file."""

    exit_code = EXIT_PARTIAL


class BundleError(RadvalError, ValueError):
    """A signature bundle failed its checksum, schema or version check."""

    exit_code = EXIT_DATAERR


class BundleSignatureError(BundleError):
    """A bundle's Ed25519 signature is missing, made by another key, or no longer valid.

    Raised only when a trusted public key was given (``radval validate --trusted-key``).
    """


class NotFittedError(RadvalError, ValueError, AttributeError):
    """A model was used before it was fitted."""


class PartialFailureError(RadvalError):
    """Some cases failed; the successful ones were written (exit code 4)."""

    exit_code = EXIT_PARTIAL


class RadvalWarning(UserWarning):
    """Base class of radval's warnings."""


class UndefinedMetricWarning(RadvalWarning):
    """A metric is undefined for this input and is returned as NaN."""


class DegenerateBootstrapWarning(RadvalWarning):
    """Bootstrap resamples were dropped or the bootstrap distribution is degenerate."""


class SmallSampleWarning(RadvalWarning):
    """The sample (or number of events) is small for the requested method."""


class ConvergenceWarning(RadvalWarning):
    """An iterative estimation did not converge."""


class DatasetShiftWarning(RadvalWarning):
    """Validation data differ from the development data (e.g. another scanner protocol)."""


class HarmonizationWarning(RadvalWarning):
    """Harmonisation is unreliable here (a feature left unadjusted, a very small new site)."""


class PredictorTimingWarning(RadvalWarning):
    """A predictor measured after the prediction moment is used by a model."""


class HorizonWarning(RadvalWarning):
    """A time horizon lies beyond the last event or beyond the maximum follow-up.

    Beyond the maximum follow-up nothing can be estimated (the result is NaN),
    and the usual cause is a unit mismatch (times in days, horizons in months).
    """


def exit_code_for(exc: BaseException) -> int:
    """Return the command-line exit code for an exception.

    radval errors carry their own code; a missing file is 66; anything else
    is an unexpected error (1).
    """
    if isinstance(exc, RadvalError):
        return exc.exit_code
    if isinstance(exc, FileNotFoundError):
        return EXIT_NOINPUT
    return EXIT_ERROR
