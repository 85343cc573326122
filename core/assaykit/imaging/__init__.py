"""Shared gel and blot image science: loading, lanes, profiles, bands, background, ladders.

Plugins call this library so that one lane finder and one band integrator serve
every imaging assay.
"""
