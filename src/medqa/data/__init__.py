"""Data stage: read sources, map schemas, clean, deduplicate, split and describe (`medqa prepare`)."""
