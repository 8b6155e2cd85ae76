"""Words every reporter shares, so a remedy reads the same in each format."""

GENERAL_CHECK = {"logs": "", "general": " (general check)"}
"""Suffix of a remedy by its basis: a remedy without one quotes what this run logged."""
