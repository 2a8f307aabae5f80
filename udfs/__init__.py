"""Pandas UDFs run by Spark's Python workers (model scoring)."""
