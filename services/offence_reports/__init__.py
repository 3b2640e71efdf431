"""Art. 40 CPP reports: a state service (Miviludes first) reports to the territorially
competent prosecution facts that may constitute an offence; the prosecution acknowledges
with its parquet number and informs the reporter of what it decided (art. 40-2 CPP)."""
