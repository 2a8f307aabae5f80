"""Backtest: replay a labelled dataset through the job's own features, model and rules, and
compare a candidate configuration against the current one before it goes live."""
