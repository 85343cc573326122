"""Test helpers: data generators with known answers, and real package installation."""
