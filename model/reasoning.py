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
    """(sides, features): the index into MODEL_CODES of each feature's code on each side."""
    matches = feature_reasons()
    table = np.full((len(_SIDES), len(FEATURE_NAMES)), _NO_CODE, dtype=np.intp)
    for i, name in enumerate(FEATURE_NAMES):
        for j, side in enumerate(_SIDES):
            codes = matches[(name, side)]
            if codes:
                table[j, i] = MODEL_CODES.index(codes[0])
    return table


_CODE_TABLE = _code_table()
_HIGH, _LOW, _MISSING, _ANY = (_CODE_TABLE[_SIDES.index(side)] for side in _SIDES)
_HAS_ANY = _ANY >= 0


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
    """Each feature's code (index into MODEL_CODES) for these values, or -1 for none. A
    category or a time names its code on any known value. (Comparing NaN gives False and no
    warning.)"""
    is_high = (values >= high) & (values > low)
    is_low = (values <= low) & (values < high)
    missing = np.isnan(values)
    codes = np.where(is_high, _HIGH, np.where(is_low, _LOW, _NO_CODE))
    codes = np.where(missing, _MISSING, np.where(_HAS_ANY, _ANY, codes))
    return codes


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
    behind = np.flatnonzero((pushed > 0) & (codes >= 0))
    by_code: dict[int, dict[str, float]] = {}
    totals: dict[int, float] = {}
    for feature, code, value in zip(
        behind.tolist(), codes[behind].tolist(), pushed[behind].tolist(), strict=True
    ):
        by_code.setdefault(code, {})[FEATURE_NAMES[feature]] = value
        totals[code] = totals.get(code, 0.0) + value
    ranked = sorted(totals, key=lambda code: (-totals[code], code))[:top]
    return [ModelReason(MODEL_CODES[code], totals[code], by_code[code]) for code in ranked]
