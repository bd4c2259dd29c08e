"""Training code for the shipped classifiers (not imported at inference time)."""
