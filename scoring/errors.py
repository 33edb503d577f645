"""Errors of the scoring core. The service maps each to an HTTP status in one place.

ScoringError
 └── ModelArtifactError   a model artifact is missing, corrupt or built for other features
"""

from __future__ import annotations


class ScoringError(Exception):
    """Base of every error the scoring core raises."""


class ModelArtifactError(ScoringError):
    """A model artifact cannot be served; the message names the file and what is wrong."""
