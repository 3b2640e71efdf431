"""The hub's one write path (group commit)."""
