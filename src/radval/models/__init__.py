"""radval.models: the model objects a study fits and freezes.

The study workflow that fits them lives in :mod:`radval.workflow`.

* :func:`riley_sample_size`: minimum sample size (Riley et al. 2020);
* :func:`fit_logistic`, :class:`DesignSpec`: IRLS logistic regression and clinical designs;
* :class:`Signature`, :func:`write_bundle`, :func:`load_bundle`: the frozen signature.

Names are loaded lazily, so ``import radval.models`` imports neither scikit-learn nor
torch.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "riley_sample_size": "samplesize",
    "fit_logistic": "logistic",
    "DesignSpec": "logistic",
    "fit_classifier": "classifiers",
    "Signature": "signature",
    "LinearScore": "signature",
    "LogisticModel": "signature",
    "SurvivalModel": "survival",
    "fit_survival_model": "survival",
    "write_bundle": "bundle",
    "load_bundle": "bundle",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
