"""assaykit_qpcr: RT-qPCR relative quantification, ΔΔCt / Pfaffl (assay ``qpcr``).

See :mod:`assaykit_qpcr.plugin` for the method and the sample sheet.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.2.0"
