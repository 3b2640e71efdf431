"""Retention: once an item has been closed for its exchange's retention period, its
personal data is purged, leaving a tombstone (what proves the steps, and a digest) and an
audit entry. A retraction of an order notification purges at once (see erasure)."""
