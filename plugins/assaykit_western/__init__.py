"""assaykit_western: western-blot densitometry (assay ``western_blot``).

Band volumes of a target protein, normalised to a loading control (ACTB by
default) of the same sample, and fold changes relative to a reference lane.
The science (lanes, bands, background) is :mod:`assaykit.imaging`; this
package only maps sample-sheet rows onto lanes and strips, chooses the band
of interest, and turns volumes into records and QC flags.
"""

from __future__ import annotations

__version__ = "1.2.0"
