"""The documents and the data-dictionary file each one generates."""

from __future__ import annotations

from radval.contracts._base import Document
from radval.contracts._files import ModelsFile, RunRecord, SelectionFile
from radval.contracts._results import ResultsFile
from radval.contracts._share import ShareFile
from radval.contracts._signature import SignatureFile

__all__ = ["DOCUMENTS"]

#: data-dictionary file stem -> definition
DOCUMENTS: dict[str, type[Document]] = {
    "results": ResultsFile,
    "selection": SelectionFile,
    "models": ModelsFile,
    "signature": SignatureFile,
    "share": ShareFile,
    "run": RunRecord,
}
