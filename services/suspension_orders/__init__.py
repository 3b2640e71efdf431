"""Suspension orders (art. 131-35-1 CP): a court's decision suspending the accounts used
to commit the offence is served on the platform, which blocks them or says why it
cannot."""
