"""Keyed pseudonyms for patient identifiers returned by a site.

A plain hash of a record number can be reversed by hashing every possible record
number; a keyed HMAC cannot without the key, which never leaves the site (it is
never written by radval).

.. math:: \\text{pseudonym} = \\text{site} \\,\\|\\, \\text{"-"} \\,\\|\\,
          \\operatorname{hex}(\\operatorname{HMAC\\text{-}SHA256}(K, \\text{id}))_{1..n}

References
----------
RFC 2104 (HMAC); EMA Policy 0070 / ISO 25237 on pseudonymisation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from radval._validation import param_error

__all__ = ["pseudonymise"]

_SITE = re.compile(r"^[A-Za-z0-9_]{1,32}$")


def pseudonymise(ids: Iterable[object], key: bytes | str, *, site: str = "",
                 length: int = 16) -> list[str]:
    """Return keyed pseudonyms for patient identifiers.

    Parameters
    ----------
    ids : iterable
        Patient identifiers (converted with ``str``).
    key : bytes or str
        Secret key kept at the site (at least 16 bytes; str is UTF-8 encoded).
    site : str, optional
        Site prefix (letters, digits, underscore), e.g. ``"siteB"`` gives ``"siteB-3fa1..."``.
    length : int, default 16
        Hex characters kept (16 = 64 bits; 8 to 64).

    Returns
    -------
    list of str
        Same order as ``ids``; equal ids give equal pseudonyms under the same key.
    """
    kb = key.encode("utf-8") if isinstance(key, str) else key
    if not isinstance(kb, bytes | bytearray) or len(kb) < 16:
        raise param_error("key", "pseudonymise", "a secret of at least 16 bytes", "<hidden>")
    if site and not _SITE.match(site):
        raise param_error("site", "pseudonymise", "letters, digits or '_' (1-32 chars)", site)
    if isinstance(length, bool) or not isinstance(length, int) or not 8 <= length <= 64:
        raise param_error("length", "pseudonymise", "an integer in [8, 64]", length)
    prefix = f"{site}-" if site else ""
    secret = bytes(kb)
    return [prefix + hmac.new(secret, str(i).encode("utf-8"), hashlib.sha256).hexdigest()[:length]
            for i in ids]
