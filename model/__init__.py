"""The model registry's commands (python -m model): which trained artifact scores payments."""
