"""Closed forms (filled in by theory modules)."""
