"""An item's record as a sealed PDF for a case file (a "cote"): what a magistrate, an
order or a platform files and shows in an adversarial debate, verifiable without the
hub."""
