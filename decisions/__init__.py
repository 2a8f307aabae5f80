"""Decisions: score bands and named rules from conf/ turn a scored payment into an action."""
