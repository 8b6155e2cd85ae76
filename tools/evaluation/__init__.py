"""The evaluation harness behind `python -m tools.evaluate`: labels, scores, calibration and
leave-one-family-out tuning. A development tool, so it lives outside the installed package."""
