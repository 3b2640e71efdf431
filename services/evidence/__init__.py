"""Evidence: a record for every step of every message, a leaf of the verifiable log, so
that a magistrate can prove when an order learnt of a conviction, a platform when it was
served — and check it offline against the hub's pinned checkpoint keys."""
