"""`riskscore predict`: score a whole history offline with a model artifact.

history -> the same features the service computes -> the same ONNX model and calibration the
service runs (`model.artifact`) -> Parquet of `transaction_id`, `score`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from feature_store.offline import compute_features
from model.artifact import Model

CHUNK_ROWS = 100_000


def predict_history(
    history: pd.DataFrame, model: Model, progress: Callable[[int], object] | None = None
) -> pd.DataFrame:
    """Calibrated scores for every row of a normalised history, in its row order."""
    delay = model.manifest.label_delay_seconds
    matrix = compute_features(history, label_delay_seconds=delay).to_numpy(dtype=np.float32)
    scores = np.empty(len(matrix), dtype=np.float64)
    for start in range(0, len(matrix), CHUNK_ROWS):
        chunk = matrix[start : start + CHUNK_ROWS]
        scores[start : start + len(chunk)] = model.scores(chunk)
        if progress:
            progress(len(chunk))
    return pd.DataFrame({"transaction_id": history["transaction_id"].to_numpy(), "score": scores})
