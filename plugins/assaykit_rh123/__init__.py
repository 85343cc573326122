"""assaykit plugin ``rh123_efflux``: P-glycoprotein function by rhodamine-123 efflux."""
