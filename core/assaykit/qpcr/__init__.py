"""qPCR science layer: Cq tables from RDML and instrument exports, and their analysis.

- :mod:`assaykit.qpcr.wells` — :class:`Well` (one reaction: sample, target, Cq,
  role, quantity) and the readers: RDML (XML or zipped ``.rdml``), Thermo
  QuantStudio "Results" export (``*`` header block, ``[Results]`` table) and
  Bio-Rad CFX "Quantification Cq Results" CSV; :func:`read_wells` picks by content.
- :mod:`assaykit.qpcr.analysis` — replicate mean/SD with an outlier rule,
  standard curve (slope, efficiency, R²), ΔΔCt (Livak) and efficiency-corrected
  ratio (Pfaffl) with one or several reference genes, NTC / no-RT QC findings,
  fold-change error propagation.
- :mod:`assaykit.qpcr.synthetic` — a seeded generator of runs with known truth.

Like every science layer it imports from assaykit only the contract modules.
"""
