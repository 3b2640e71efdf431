"""Webhooks: feed items POSTed to a recipient's HTTPS endpoint, signed as the Standard
Webhooks specification says, retried with backoff, parked as dead letters, replayable."""
