"""assaykit plugin ``tunel``: percent TUNEL-positive cells by flow cytometry."""
