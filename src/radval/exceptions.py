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
    ├── OutputError(RadvalError, OSError)            an output cannot be written (permission,
    │                                                read-only, exists, disk full)
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
    "EXIT_CANTCREAT",
    "EXIT_CONFIG",
    "EXIT_DATAERR",
    "EXIT_ERROR",
    "EXIT_IOERR",
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
    "OutputError",
    "PartialFailureError",
    "PredictorTimingWarning",
    "RadvalError",
    "RadvalWarning",
    "SchemaError",
    "SmallSampleWarning",
    "UndefinedMetricWarning",
    "exit_code_for",
    "output_error",
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
#: An output file or folder cannot be created or written: permission denied, read-only file
#: system, or an existing file not overwritten without --force (EX_CANTCREAT).
EXIT_CANTCREAT = 73
#: Input/output error while writing, e.g. the disk is full (EX_IOERR).
EXIT_IOERR = 74
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


class OutputError(RadvalError, OSError):
    """An output file or folder cannot be written; the message names it and says why.

    Exit code 74 (EX_IOERR) when the disk is full or the device fails, 73 (EX_CANTCREAT)
    otherwise (permission denied, read-only file system, a file not to be overwritten).
    """

    exit_code = EXIT_CANTCREAT

    def __init__(self, message: str, *, errno: int | None = None,
                 filename: str | None = None) -> None:
        OSError.__init__(self, message)
        self.errno = errno  # type: ignore[misc]
        self.filename = filename
        if errno in _IO_ERRNOS:
            self.exit_code = EXIT_IOERR

    def __str__(self) -> str:  # the message, not OSError's "[Errno n] strerror: filename"
        return str(self.args[0]) if self.args else ""


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


def _io_errnos() -> frozenset[int]:
    import errno

    return frozenset(getattr(errno, n) for n in ("ENOSPC", "EDQUOT", "EIO", "EFBIG")
                     if hasattr(errno, n))


#: errno values of a failing device rather than a refused write: disk full, quota, I/O error.
_IO_ERRNOS = _io_errnos()


def _refused_errnos() -> frozenset[int]:
    import errno

    return frozenset(getattr(errno, n) for n in ("EACCES", "EPERM", "EROFS", "EEXIST",
                                                 "EISDIR", "ENOTDIR") if hasattr(errno, n))


#: errno values of a refused write (exit code 73).
_REFUSED_ERRNOS = _refused_errnos()


def output_error(exc: OSError, path: object) -> OutputError:
    """An :class:`OutputError` naming ``path`` for an :class:`OSError` raised while writing it.

    The message says what happened in words (disk full, permission denied, read-only file
    system) and what to do; absolute paths are rewritten at the command-line boundary.
    """
    import errno as e

    name = str(path)
    code = exc.errno
    if code in (e.ENOSPC, getattr(e, "EDQUOT", e.ENOSPC)):
        msg = (f"disk full: cannot write {name} (no space left on the device); free some "
               "space or write to another folder (--out)")
    elif code == e.EROFS:
        msg = (f"cannot write {name}: read-only file system; choose an output folder you can "
               "write to (--out)")
    elif code in (e.EACCES, e.EPERM):
        msg = (f"cannot write {name}: permission denied; choose an output folder you can "
               "write to (--out)")
    else:
        msg = f"cannot write {name}: {exc.strerror or exc}"
    return OutputError(msg, errno=code, filename=name)


def exit_code_for(exc: BaseException) -> int:
    """Return the command-line exit code for an exception.

    radval errors carry their own code; a missing file is 66; another operating-system
    error is 73 for a refused write (permission denied, read-only file system, a folder in
    the way) and 74 otherwise (disk full, device error); anything else is an unexpected
    error (1).
    """
    if isinstance(exc, RadvalError):
        return exc.exit_code
    if isinstance(exc, FileNotFoundError):
        return EXIT_NOINPUT
    if isinstance(exc, OSError) and exc.errno is not None:
        return EXIT_CANTCREAT if exc.errno in _REFUSED_ERRNOS else EXIT_IOERR
    return EXIT_ERROR
