"""radval.pool: external validation at many sites and pooling of their results.

* :func:`meta_analysis` - random-effects (REML / DL, HKSJ) or fixed-effect meta-analysis,
  with Q-profile intervals for tau^2 and I^2, as metafor.
* :func:`published_auc` / :func:`published_oe` / :func:`published_validations` - published
  validations as meta-analysis inputs (logit AUC, log O/E and SEs, as metamisc valmeta).
* :func:`build_share` / :func:`read_share` - the aggregate-only ``share.json`` a site sends back.
* :func:`pool_shares` - pool several sites' share files (``radval pool``).
* :func:`pseudonymise` - keyed HMAC-SHA256 pseudonyms for optional per-patient returns.
"""

from __future__ import annotations

from radval._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "MetaAnalysisResult": "_meta_analysis",
    "meta_analysis": "_meta_analysis",
    "pool_shares": "pooling",
    "pseudonymise": "pseudonym",
    "PublishedValidation": "published",
    "published_auc": "published",
    "published_oe": "published",
    "published_validations": "published",
    "build_share": "share",
    "check_share": "share",
    "read_share": "share",
    "write_share": "share",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
