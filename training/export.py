"""ONNX export with a parity check: the service runs exactly what training measured.

XGBoost model -> ONNX (onnxmltools) -> ONNX Runtime on the test window -> refused when any
probability differs from XGBoost's by more than `PARITY_TOLERANCE`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import xgboost as xgb
from onnxmltools import convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType

ONNX_INPUT = "features"
ONNX_OPSET = 15
PARITY_TOLERANCE = 1e-5


class ParityError(ValueError):
    """ONNX Runtime and XGBoost disagree beyond the tolerance; the model is not published."""


@dataclass(frozen=True)
class OnnxExport:
    model_bytes: bytes
    max_abs_diff: float
    rows: int


def export_onnx(classifier: xgb.XGBClassifier, check: npt.NDArray[np.float32]) -> OnnxExport:
    """Convert to ONNX and compare predictions on `check` rows; raise `ParityError` if off."""
    features = check.shape[1]
    model = convert_xgboost(
        classifier,
        initial_types=[(ONNX_INPUT, FloatTensorType([None, features]))],
        target_opset=ONNX_OPSET,
    )
    model.graph.name = "riskscore"  # the converter names it with a random UUID
    model_bytes: bytes = model.SerializeToString()
    _, probabilities = onnx_session(model_bytes).run(None, {ONNX_INPUT: check})
    onnx_scores = np.asarray(probabilities, dtype=np.float64)[:, 1]
    xgb_scores = classifier.predict_proba(check)[:, 1].astype(np.float64)
    max_abs_diff = float(np.max(np.abs(onnx_scores - xgb_scores))) if len(check) else 0.0
    if not max_abs_diff <= PARITY_TOLERANCE:
        raise ParityError(
            f"ONNX and XGBoost probabilities differ by up to {max_abs_diff:.3g} on "
            f"{len(check)} test rows (tolerance {PARITY_TOLERANCE}); not publishing"
        )
    return OnnxExport(model_bytes, max_abs_diff, len(check))


def onnx_session(model_bytes: bytes) -> ort.InferenceSession:
    """An ONNX Runtime session on one thread, as the service runs it."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
