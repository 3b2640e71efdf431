"""ARCOM oversight: aggregate figures per platform and per trusted flagger (DSA art. 22
and the supervision of suspension orders)."""
