"""The model artifact's manifest: what training writes and what the scorer checks at load.

One schema for both sides. A model artifact is a folder holding `manifest.json`, `model.onnx`
(what the service runs), `model.json` (the native XGBoost model) and the model card.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

MANIFEST_FILE = "manifest.json"
ONNX_FILE = "model.onnx"
XGBOOST_FILE = "model.json"
MODEL_CARD_FILE = "MODEL_CARD.md"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    start: str
    end: str
    rows: int
    frauds: int


class TrainingData(_Strict):
    fingerprint: str = Field(description="sha256 of the normalised history the model learnt from")
    rows: int
    frauds: int
    start: str
    end: str


class Calibration(_Strict):
    """Platt scaling of the margin m: probability = 1 / (1 + exp(-(slope * m + intercept)))."""

    method: str = "platt"
    slope: float
    intercept: float


class ScoreBands(_Strict):
    review_at: float
    challenge_at: float
    decline_at: float


class Parity(_Strict):
    rows: int
    max_abs_diff: float
    tolerance: float


class Manifest(_Strict):
    schema_version: int = 1
    model_version: str
    feature_set_version: str
    features: list[str]
    created_at: str
    onnx_input: str
    training_data: TrainingData
    split: dict[str, Window]
    gap_days: float
    label_delay_seconds: int
    parameters: dict[str, float | int | str]
    best_iteration: int
    calibration: Calibration
    metrics: dict[str, dict[str, object]]
    suggested_score_bands: ScoreBands
    parity: Parity
    files: dict[str, str] = Field(description="sha256 of each file of the artifact")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
