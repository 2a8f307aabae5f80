"""Transaction features: one numpy engine for training (whole dataset) and streaming (micro-batches)."""
