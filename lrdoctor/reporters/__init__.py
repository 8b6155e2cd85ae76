"""Renderers: they turn results into text for people or JSON for programs, and compute nothing."""
