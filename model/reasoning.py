"""A decision's model reasons: per-feature contributions -> sides -> codes -> the top ones.

contributions (exact TreeSHAP, `model.treeshap`) and feature values -> each feature's side of
its normal range (`model.manifest.NormalRange`) -> the catalogue's code for that side
(`model.reasons`) -> codes ranked by the summed contributions of the features that pushed
toward fraud. A feature that pushed away from fraud, or whose side no code names, gives none.

The catalogue's patterns are matched once, at import, into a (sides, features) table of codes;
per decision one loop compiled by numba reads it, sums and ranks the codes (about 1 us), and
Python builds only the reasons returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from feature_store.definitions import FEATURE_NAMES
from model.reasons import MODEL_CODES, Side, feature_reasons
from model.treeshap import TreeShap, _kernel

_SIDES = tuple(Side)
_NO_CODE = -1


class ModelReason(NamedTuple):
    """One model code of a decision: `weight` is the sum of `contributions` (log-odds), the
    features behind it, each of which pushed the margin toward fraud. (A named tuple: three
    per explained decision, and a frozen dataclass costs about 1 us each to build.)"""

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
# What `_codes_source` reads: the code table's rows by side, and how many codes there are.
_HIGH_ROW, _LOW_ROW, _MISSING_ROW, _ANY_ROW = (_SIDES.index(side) for side in _SIDES)
_CODES = len(MODEL_CODES)


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


def _codes_source(
    contributions: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    table: npt.NDArray[np.intp],
    code_of: npt.NDArray[np.intp],
    totals: npt.NDArray[np.float64],
) -> None:
    """Each feature that pushed toward fraud: its code into `code_of` (-1 for none) and its
    contribution added to the code's total, in feature order (compiled by numba; plain Python
    works too). A feature's side is `sides`', except that a category or a time names its code
    on any known value; comparing NaN gives False. No bounds are checked."""
    for i in range(contributions.shape[0]):
        pushed, x = contributions[i], values[i]
        code = _NO_CODE
        if not pushed > 0:
            pass
        elif x != x:
            code = table[_MISSING_ROW, i]
        elif table[_ANY_ROW, i] >= 0:
            code = table[_ANY_ROW, i]
        elif x >= high[i] and x > low[i]:
            code = table[_HIGH_ROW, i]
        elif x <= low[i] and x < high[i]:
            code = table[_LOW_ROW, i]
        code_of[i] = code
        if code >= 0:
            totals[code] += pushed


def _rank_source(
    contributions: npt.NDArray[np.float64],
    code_of: npt.NDArray[np.intp],
    totals: npt.NDArray[np.float64],
    ranked: npt.NDArray[np.intp],
    weights: npt.NDArray[np.float64],
    ends: npt.NDArray[np.intp],
    behind: npt.NDArray[np.intp],
    shares: npt.NDArray[np.float64],
) -> int:
    """The top codes by total into `ranked[:n]` and their totals into `weights` (as many as
    `ranked` holds, fewer when fewer codes have a feature), ties to the code first in the
    catalogue, and the features of the k-th at `behind[ends[k - 1]:ends[k]]`, in feature
    order, their contributions at the same places of `shares`; returns n (compiled by
    numba)."""
    named = np.zeros(totals.shape[0], dtype=np.bool_)
    for i in range(code_of.shape[0]):
        if code_of[i] >= 0:
            named[code_of[i]] = True
    n, end = 0, 0
    while n < ranked.shape[0]:
        best = _NO_CODE
        for code in range(totals.shape[0]):
            if named[code] and (best < 0 or totals[code] > totals[best]):
                best = code
        if best < 0:
            break
        ranked[n], weights[n], named[best] = best, totals[best], False
        for i in range(code_of.shape[0]):
            if code_of[i] == best:
                behind[end], shares[end] = i, contributions[i]
                end += 1
        ends[n] = end
        n += 1
    return n


_Group = Callable[..., int]
_compiled: dict[str, _Group] = {}


def _group(with_shap: bool = False) -> _Group:
    """`_codes_source` then `_rank_source` compiled into one call on first use (about a
    second, once per process); `with_shap`: exact TreeSHAP of the row first
    (`model.treeshap`), so that an explained decision is one call."""
    key = "explain" if with_shap else "group"
    if key not in _compiled:
        import numba  # lazily, as model.treeshap does

        compile_ = numba.njit(nogil=True, cache=False)
        codes, rank = compile_(_codes_source), compile_(_rank_source)
        shap = _kernel()

        def group(
            contributions: npt.NDArray[np.float64],
            values: npt.NDArray[np.float64],
            low: npt.NDArray[np.float64],
            high: npt.NDArray[np.float64],
            work: tuple[npt.NDArray[Any], ...],
        ) -> int:
            code_of, totals, ranked, weights, ends, behind, shares = work
            totals[:] = 0.0
            codes(contributions, values, low, high, _CODE_TABLE, code_of, totals)
            return int(rank(contributions, code_of, totals, ranked, weights, ends, behind, shares))

        grouped = compile_(group)

        def explain(
            row: npt.NDArray[np.float32],
            shap_arguments: tuple[Any, ...],
            contributions: npt.NDArray[np.float64],
            values: npt.NDArray[np.float64],
            low: npt.NDArray[np.float64],
            high: npt.NDArray[np.float64],
            work: tuple[npt.NDArray[Any], ...],
        ) -> int:
            shap(row, *shap_arguments, contributions)
            return int(grouped(contributions, values, low, high, work))

        _compiled["group"] = cast(_Group, grouped)
        _compiled["explain"] = cast(_Group, compile_(explain))
    return _compiled[key]


def model_reasons(
    contributions: Sequence[float] | npt.NDArray[np.float64],
    values: Sequence[float] | npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    top: int = 3,
) -> list[ModelReason]:
    """The `top` model codes by the summed contributions toward fraud, largest first.

    `contributions` and `values` are in feature-definition order (log-odds; NaN missing);
    `low` and `high` bound each feature's normal range. The grouping is one compiled pass
    (`_codes_source`, `_rank_source`); Python only builds the reasons it returns.
    """
    pushed = np.asarray(contributions, dtype=np.float64)
    given, low, high = _checked(pushed, values, low, high)
    work = _work(top)
    return work.reasons(_group()(pushed, given, low, high, work.buffers))


def explained_reasons(
    shap: TreeShap,
    row: npt.NDArray[np.float32],
    values: Sequence[float] | npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    top: int = 3,
) -> tuple[npt.NDArray[np.float64], list[ModelReason]]:
    """Exact TreeSHAP of `row` (float32, shape (1, features); `shap.contributions`) and the
    `top` model reasons from it (`model_reasons`), in one compiled call: what an explained
    decision costs. `values` are the row's features as the decision keeps them."""
    pushed = np.empty(len(FEATURE_NAMES), dtype=np.float64)
    given, low, high = _checked(pushed, values, low, high)
    if row.shape != (1, shap.features) or row.dtype != np.float32:
        raise ValueError(f"row must be float32 of shape (1, {shap.features}), not {row.shape}")
    work = _work(top)
    n = _group(with_shap=True)(row[0], shap.arguments, pushed, given, low, high, work.buffers)
    return pushed, work.reasons(n)


def _checked(
    pushed: npt.NDArray[np.float64],
    values: Sequence[float] | npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    given = np.asarray(values, dtype=np.float64)
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    shape = (len(FEATURE_NAMES),)
    if not pushed.shape == given.shape == low.shape == high.shape == shape:
        raise ValueError(
            f"contributions, values, low and high must each hold {shape[0]} features; "
            f"got shapes {pushed.shape}, {given.shape}, {low.shape} and {high.shape}"
        )
    return given, low, high


class _Work:
    """What the compiled grouping writes (`buffers`, in `group`'s order), and the reasons
    built from it."""

    def __init__(self, top: int) -> None:
        features = len(FEATURE_NAMES)
        self.top = top
        self.buffers = (
            np.empty(features, dtype=np.intp),  # code_of
            np.empty(_CODES, dtype=np.float64),  # totals
            np.empty(top, dtype=np.intp),  # ranked
            np.empty(top, dtype=np.float64),  # weights
            np.empty(top, dtype=np.intp),  # ends
            np.empty(features, dtype=np.intp),  # behind
            np.empty(features, dtype=np.float64),  # shares
        )

    def reasons(self, n: int) -> list[ModelReason]:
        """The first `n` ranked codes with the features behind each."""
        _, _, ranked, weights, ends, behind, shares = self.buffers
        stops = ends[:n].tolist()
        count = stops[-1] if n else 0
        features, sums = behind[:count].tolist(), shares[:count].tolist()
        reasons, start = [], 0
        for code, weight, end in zip(ranked[:n].tolist(), weights[:n].tolist(), stops, strict=True):
            names = [FEATURE_NAMES[i] for i in features[start:end]]
            behind_code = dict(zip(names, sums[start:end], strict=True))
            reasons.append(ModelReason(MODEL_CODES[code], weight, behind_code))
            start = end
        return reasons


# Each thread reuses its buffers: the score path calls from the event loop's thread, other
# callers from threads of their own, and the kernel runs without the GIL.
_threads = threading.local()


def _work(top: int) -> _Work:
    work: _Work | None = getattr(_threads, "work", None)
    if work is None or work.top != top:
        work = _threads.work = _Work(top)
    return work
