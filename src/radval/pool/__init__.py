"""radval.pool: external validation at many sites and pooling of their results.

* :func:`meta_analysis` - random-effects meta-analysis (REML / DL, HKSJ), as metafor.
* :func:`build_share` / :func:`read_share` - the aggregate-only ``share.json`` a site sends back.
* :func:`pool_shares` - pool several sites' share files (``radval pool``).
* :func:`pseudonymise` - keyed HMAC-SHA256 pseudonyms for optional per-patient returns.
"""

from radval.pool.meta_analysis import MetaAnalysisResult, meta_analysis
from radval.pool.pooling import pool_shares
from radval.pool.pseudonym import pseudonymise
from radval.pool.share import build_share, check_share, read_share, write_share

__all__ = [
    "MetaAnalysisResult",
    "build_share",
    "check_share",
    "meta_analysis",
    "pool_shares",
    "pseudonymise",
    "read_share",
    "write_share",
]
