"""Evidence: a JWS signed by the hub for every step of every message, so that a
magistrate can prove when an order learnt of a conviction, a platform when it was
served — and check it offline with the hub's public keys."""
