"""Subcommands of `riskscore`, grouped by the half of the product they serve."""
