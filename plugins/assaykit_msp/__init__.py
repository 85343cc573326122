"""assaykit_msp: methylation-specific PCR gel calls (assay ``msp_gel``).

A built-in plugin, registered under the ``assaykit`` entry-point group like
any third-party plugin. See :mod:`assaykit_msp.plugin` for the method.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.2.0"
