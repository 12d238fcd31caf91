"""Validation with great-expectations 1.x: a suite built from the meter catalog, one verdict per bad line."""
