"""riskscore: real-time payment-risk scoring. `riskscore.cli` is the command-line entry point."""

__version__ = "0.1.0"
