"""The package version (read by hatch at build time and by modelcycle at run time)."""

__version__ = "0.1.0"
