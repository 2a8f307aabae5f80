"""Model training on the same features the stream computes (features.batch)."""
