"""A decision's model reasons: per-feature contributions -> sides -> codes -> the top ones.

contributions (exact TreeSHAP, `model.treeshap`) and feature values -> each feature's side of
its normal range (`model.manifest.NormalRange`) -> the catalogue's code for that side
(`model.reasons`) -> codes ranked by the summed contributions of the features that pushed
toward fraud. A feature that pushed away from fraud, or whose side no code names, gives none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from feature_store.definitions import FEATURE_NAMES
from model.reasons import MODEL_CODES, Side, feature_reasons

_SIDES = tuple(Side)
_NO_CODE = -1


@dataclass(frozen=True, slots=True)
class ModelReason:
    """One model code of a decision: `weight` is the sum of `contributions` (log-odds), the
    features behind it, each of which pushed the margin toward fraud."""

    code: str
    weight: float
    contributions: Mapping[str, float]


def _code_table() -> npt.NDArray[np.intp]:
    """(features, sides): the index into MODEL_CODES of each feature's code on each side."""
    matches = feature_reasons()
    table = np.full((len(FEATURE_NAMES), len(_SIDES)), _NO_CODE, dtype=np.intp)
    for i, name in enumerate(FEATURE_NAMES):
        for j, side in enumerate(_SIDES):
            codes = matches[(name, side)]
            if codes:
                table[i, j] = MODEL_CODES.index(codes[0])
    return table


_CODE_TABLE = _code_table()
_ANY = _SIDES.index(Side.ANY)


def sides(
    values: npt.NDArray[np.float64], low: npt.NDArray[np.float64], high: npt.NDArray[np.float64]
) -> npt.NDArray[np.intp]:
    """Each value's side (an index into `Side`), or -1 for a known value within its range."""
    with np.errstate(invalid="ignore"):
        is_high = (values >= high) & (values > low)
        is_low = (values <= low) & (values < high)
    result = np.full(values.shape, _NO_CODE, dtype=np.intp)
    result[is_high] = _SIDES.index(Side.HIGH)
    result[is_low] = _SIDES.index(Side.LOW)
    result[np.isnan(values)] = _SIDES.index(Side.MISSING)
    return result


def feature_codes(
    values: npt.NDArray[np.float64], low: npt.NDArray[np.float64], high: npt.NDArray[np.float64]
) -> npt.NDArray[np.intp]:
    """Each feature's code (index into MODEL_CODES) for these values, or -1 for none."""
    side = sides(values, low, high)
    rows = np.arange(len(values))
    codes = np.where(side >= 0, _CODE_TABLE[rows, np.maximum(side, 0)], _NO_CODE)
    # A category or time names its code on any known value.
    known = ~np.isnan(values)
    return np.where(known & (_CODE_TABLE[:, _ANY] >= 0), _CODE_TABLE[:, _ANY], codes)


def model_reasons(
    contributions: Sequence[float] | npt.NDArray[np.float64],
    values: Sequence[float] | npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    top: int = 3,
) -> list[ModelReason]:
    """The `top` model codes by the summed contributions toward fraud, largest first.

    `contributions` and `values` are in feature-definition order (log-odds; NaN missing);
    `low` and `high` bound each feature's normal range.
    """
    pushed = np.asarray(contributions, dtype=np.float64)
    codes = feature_codes(np.asarray(values, dtype=np.float64), low, high)
    behind = (pushed > 0) & (codes >= 0)
    totals = np.bincount(codes[behind], weights=pushed[behind], minlength=len(MODEL_CODES))
    order = np.argsort(-totals, kind="stable")[:top]
    return [
        ModelReason(
            MODEL_CODES[i],
            float(totals[i]),
            {FEATURE_NAMES[f]: float(pushed[f]) for f in np.flatnonzero(behind & (codes == i))},
        )
        for i in order
        if totals[i] > 0
    ]
