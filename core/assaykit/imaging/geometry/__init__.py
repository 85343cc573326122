"""Geometry of gels and blots (being split into modules; see the next commit)."""

from assaykit.imaging.geometry.lanes import *  # noqa: F403
from assaykit.imaging.geometry.lanes import __all__, __doc__  # noqa: F401
