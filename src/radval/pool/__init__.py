"""radval.pool: external validation at many sites and pooling of their results.

* :func:`meta_analysis` - random-effects (REML / DL, HKSJ) or fixed-effect meta-analysis,
  with Q-profile intervals for tau^2 and I^2, as metafor.
* :func:`published_auc` / :func:`published_oe` / :func:`published_validations` - published
  validations as meta-analysis inputs (logit AUC, log O/E and SEs, as metamisc valmeta).
* :func:`build_share` / :func:`read_share` - the aggregate-only ``share.json`` a site sends back.
* :func:`pool_shares` - pool several sites' share files (``radval pool``).
* :func:`pseudonymise` - keyed HMAC-SHA256 pseudonyms for optional per-patient returns.
"""

from radval.pool.meta_analysis import MetaAnalysisResult, meta_analysis
from radval.pool.pooling import pool_shares
from radval.pool.pseudonym import pseudonymise
from radval.pool.published import (
    PublishedValidation,
    published_auc,
    published_oe,
    published_validations,
)
from radval.pool.share import build_share, check_share, read_share, write_share

__all__ = [
    "MetaAnalysisResult",
    "PublishedValidation",
    "build_share",
    "check_share",
    "meta_analysis",
    "pool_shares",
    "pseudonymise",
    "published_auc",
    "published_oe",
    "published_validations",
    "read_share",
    "write_share",
]
