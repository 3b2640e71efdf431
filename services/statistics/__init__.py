"""Statistics for Miviludes' annual report and the national strategy's evaluation:
counts per exchange, period and category, computed from the items' states and the facts
recorded at each step (never from content, which erasure removes), with small counts
suppressed."""
