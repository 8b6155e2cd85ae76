"""lrdoctor: diagnose failed training runs from their logged curves."""

__version__ = "0.1.0"
