"""Shared flow-cytometry science: FCS events, compensation, transforms, gates, thresholds.

Plugins call this library so that one reader and one gating routine serve every
flow assay.
"""
