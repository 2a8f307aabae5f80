"""Synthetic payments: a re-implementation of the fraud detection handbook's simulator."""
