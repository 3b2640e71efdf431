"""The verifiable log: every evidence record and audit entry as a leaf of one append-only
Merkle tree, a signed checkpoint per committed group, proofs for parties and witnesses,
and a verifier that needs nothing of the hub (verifier.py)."""
