"""Shared runtime pieces: typed configuration, the one SparkSession builder, logging."""
