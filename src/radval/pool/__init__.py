"""radval.pool: multi-site pooling of external validations.

* :func:`meta_analysis` - random-effects meta-analysis (REML / DL, HKSJ), as metafor.
* :mod:`radval.pool.share` - the aggregate-only ``share.json`` a site sends back.
* :func:`pseudonymise` - keyed HMAC-SHA256 pseudonyms for optional per-patient returns.
"""

from radval.pool.meta_analysis import MetaAnalysisResult, meta_analysis
from radval.pool.pseudonym import pseudonymise

__all__ = ["MetaAnalysisResult", "meta_analysis", "pseudonymise"]
