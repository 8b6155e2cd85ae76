"""Sample learning-rate sweeps: real PyTorch training over log-scale LR grids, each sweep
written through one framework's own logger, with the measured best LR as ground truth.

Development tool only: it lives outside the installed package. See `python -m tools.sweeps`.
"""
