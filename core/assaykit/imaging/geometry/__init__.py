"""Geometry of gels and blots: rotation, lanes, stacked strips and smile.

All functions expect bands *bright on a dark background* (see
:func:`assaykit.imaging.io.normalize_polarity`).

Modules: ``deskew`` (rotation and lane tilt), ``lanes``, ``strips``, ``smile``
(smile and lane registration); ``_xcorr`` holds the profile cross-correlation
that deskew and smile share.
"""

from __future__ import annotations

# Private, but reachable as geometry._xcorr_shift before the split; kept so for code
# written against the one-file module.
from assaykit.imaging.geometry._xcorr import _xcorr_shift as _xcorr_shift
from assaykit.imaging.geometry.deskew import estimate_lane_tilt, estimate_rotation, rotate_image
from assaykit.imaging.geometry.lanes import Lane, LaneDetection, find_lanes
from assaykit.imaging.geometry.smile import (
    LaneRegistration,
    SmileModel,
    estimate_smile,
    register_lanes,
)
from assaykit.imaging.geometry.strips import find_strips

__all__ = [
    "Lane",
    "LaneDetection",
    "LaneRegistration",
    "SmileModel",
    "estimate_lane_tilt",
    "estimate_rotation",
    "estimate_smile",
    "find_lanes",
    "find_strips",
    "register_lanes",
    "rotate_image",
]
