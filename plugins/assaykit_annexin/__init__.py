"""assaykit_annexin: Annexin V-FITC / propidium iodide apoptosis quadrants (assay ``annexin_pi``).

A built-in plugin, registered under the ``assaykit`` entry-point group like
any third-party plugin. See :mod:`assaykit_annexin.plugin` for the method.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "1.1.0"
