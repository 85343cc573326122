"""FCS reader and writer (being split into modules; see the next commit)."""

from assaykit.cytometry.fcs.text import *  # noqa: F403
from assaykit.cytometry.fcs.text import __all__, __doc__  # noqa: F401
