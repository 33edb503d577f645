"""Errors of the model at run time. The service maps each to an HTTP status in one place
(`service/problems.py`).

ModelError
 └── ModelArtifactError     a model artifact is missing, corrupt or built for other features,
     │                      or its graphs disagree with its parity sample
     └── ModelSignatureError  unsigned where a signature is required, signed by another key,
                              changed after signing, or a signing/verification key unreadable
"""

from __future__ import annotations


class ModelError(Exception):
    """Base of every error the model package raises."""


class ModelArtifactError(ModelError):
    """A model artifact cannot be served; the message names the file and what is wrong."""


class ModelSignatureError(ModelArtifactError):
    """An artifact's signature does not show that the holder of the release key made it."""
