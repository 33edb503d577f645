"""The model artifact's manifest: what training writes and what the scorer checks at load.

One schema for both sides. A model artifact is a folder holding `manifest.json`, `model.onnx`
(what the service runs), `attributions.onnx` (the same classifier plus Saabas path
attributions), `parity_sample.npz` (rows and XGBoost's outputs for them, re-run at load),
`model.json` (the native XGBoost model: the trees exact TreeSHAP is compiled from at load),
the model card and, when signed, `manifest.sig`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MANIFEST_FILE = "manifest.json"
ONNX_FILE = "model.onnx"
ATTRIBUTIONS_FILE = "attributions.onnx"
XGBOOST_FILE = "model.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
PARITY_SAMPLE_FILE = "parity_sample.npz"
# Beside the manifest, not listed in it: it signs the manifest's bytes (model/signing.py).
SIGNATURE_FILE = "manifest.sig"
# Files `load_model` needs: each must be listed in `files`, so that each is hash-checked.
REQUIRED_FILES = (ONNX_FILE, ATTRIBUTIONS_FILE, PARITY_SAMPLE_FILE, XGBOOST_FILE)
# 3: the parity sample. Older artifacts carry nothing to verify their graphs with at load.
# 4: `normal_ranges`, which reason codes need to say which way a value lies.
SCHEMA_VERSION = 4
# Outputs of `attributions.onnx`: the classifier's (N, 2) probabilities and (N, features + 1)
# contributions to the margin, the last column being the bias.
PROBABILITIES_OUTPUT = "probabilities"
CONTRIBUTIONS_OUTPUT = "contributions"


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


class Attributions(_Strict):
    """`attributions.onnx` checked on the test window against XGBoost's Saabas attributions
    (`pred_contribs=True, approx_contribs=True`) and margin, and against its probabilities."""

    method: str = "saabas"
    rows: int
    max_abs_diff: float = Field(description="largest difference of any contribution or bias")
    max_margin_diff: float = Field(description="largest |bias + sum of contributions - margin|")
    max_probability_diff: float = Field(description="checked against `parity.tolerance`")
    tolerance: float = Field(description="for contributions, bias and margin (log-odds)")


class ParitySampleSummary(_Strict):
    """What `parity_sample.npz` holds: `rows` feature rows (`constructed` of them built from
    the trees' thresholds, the rest from the test window, some with values removed) that
    reach `leaves_reached` of the `leaves` of the trees the model predicts with."""

    rows: int
    constructed: int
    leaves: int
    leaves_reached: int


class NormalRange(_Strict):
    """A feature's normal range: the lower and upper quartile of its known values in the
    training window. A value at or above `high` is high, at or below `low` low (reason codes
    say which way a value lies only against this range: `model/reasoning.py`)."""

    low: float = Field(allow_inf_nan=False)
    high: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> NormalRange:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        return self


class TuningRecord(_Strict):
    """The hyperparameter search training ran: on `validation`, the last part of the training
    window by time, `trials` trials scored by `metric`, against the starting parameters'."""

    metric: str
    seed: int
    trials_budget: int | None
    minutes_budget: float | None
    trials: int
    start_value: float
    best_value: float
    searched: dict[str, float | int] = Field(description="the best trial's values, {} if none won")
    validation: Window


class TrainingConfigRecord(_Strict):
    """What training ran with: every setting, resolved from the defaults, the config file
    (`source`, with its sha256) and the flags; and the search, when tuned."""

    source: str | None
    sha256: str | None
    settings: dict[str, Any]
    tuning: TuningRecord | None = None


class Manifest(_Strict):
    schema_version: int = SCHEMA_VERSION
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
    attributions: Attributions
    parity_sample: ParitySampleSummary
    normal_ranges: dict[str, NormalRange] = Field(
        description="each feature's normal range in the training window, for reason codes"
    )
    files: dict[str, str] = Field(description="sha256 of each file of the artifact")
    # Absent from artifacts trained before training configs existed.
    training_config: TrainingConfigRecord | None = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
