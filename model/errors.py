"""Errors of the model at run time. The service maps each to an HTTP status in one place
(`service/problems.py`).

ModelError
 └── ModelArtifactError   a model artifact is missing, corrupt or built for other features
"""

from __future__ import annotations


class ModelError(Exception):
    """Base of every error the model package raises."""


class ModelArtifactError(ModelError):
    """A model artifact cannot be served; the message names the file and what is wrong."""
