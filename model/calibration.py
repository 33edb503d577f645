"""From what ONNX Runtime gives to the score: probability -> margin -> calibrated score.

One pair of formulas for the service (`model.artifact`), offline scoring and the parity check
at load (`model.parity`), so all three score the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from model.manifest import Calibration

Floats = npt.NDArray[np.float64]
# Keeps the logit finite: ONNX Runtime returns float32 probabilities.
PROBABILITY_EPSILON = 1e-7


def margins_from_probabilities(probability: npt.NDArray[Any]) -> Floats:
    """The model's log-odds margin, recovered from its (float32) probability."""
    result: Floats = logit(np.asarray(probability, dtype=np.float64))
    return result


def calibrate(calibration: Calibration, margin: Floats) -> Floats:
    """Calibrated fraud probability for each margin (Platt scaling)."""
    result: Floats = platt(calibration, margin)
    return result


# The two formulas take float64 arrays or scalars: `Model.explain` calls them on scalars
# (several times faster than on one-element arrays) and gets, from the same ufuncs, the bits
# `Model.scores` gives.


def logit(p: Any) -> Any:
    """log(p / (1 - p)), p kept within `PROBABILITY_EPSILON` of 0 and 1."""
    p = np.minimum(np.maximum(p, PROBABILITY_EPSILON), 1 - PROBABILITY_EPSILON)  # clip, faster
    return np.log(p) - np.log1p(-p)


def platt(calibration: Calibration, margin: Any) -> Any:
    """1 / (1 + exp(-(slope * margin + intercept)))."""
    return 1.0 / (1.0 + np.exp(-(calibration.slope * margin + calibration.intercept)))
