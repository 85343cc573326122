"""A real third-party assaykit plugin, used by assaykit's tests."""
