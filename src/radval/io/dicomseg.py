"""DICOM-SEG masks (highdicom): the segment chosen by number, on the image grid.

Thin public wrapper over :func:`radval.io.images.read_mask` for callers that know they hold a
DICOM-SEG file.  pydicom-seg is not used (it pins ``numpy<2``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from radval.exceptions import InputError
from radval.io.images import dicom_modality, read_mask

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["list_segments", "read_seg"]


def list_segments(path: str | os.PathLike[str]) -> dict[int, str]:
    """Segment number -> segment label of a DICOM-SEG file."""
    import highdicom as hd

    seg = hd.seg.segread(os.fspath(path))
    return {int(n): str(seg.get_segment_description(n).segment_label)
            for n in seg.segment_numbers}


def read_seg(path: str | os.PathLike[str], *, reference: sitk.Image | None = None,
             segment: int = 1) -> sitk.Image:
    """Read segment ``segment`` of a DICOM-SEG as a label image (value ``segment`` inside).

    With ``reference`` the segment is resampled (nearest neighbour) onto the image grid.
    """
    if dicom_modality(path) != "SEG":
        raise InputError(f"{os.path.basename(os.fspath(path))}: not a DICOM-SEG file")
    return read_mask(path, reference=reference, label=segment)
