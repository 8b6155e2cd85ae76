"""A labelled corpus of real PyTorch training runs, logged through the frameworks' own writers.

Development tool only: it lives outside the installed package. See `python -m tools.corpus --help`.
"""
