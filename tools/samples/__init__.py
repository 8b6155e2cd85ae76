"""Labelled sample training logs, produced by training small numpy models for real.

`python -m tools.samples OUTDIR` regenerates every run and OUTDIR/labels.json.
"""
