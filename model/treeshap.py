"""Exact TreeSHAP of one transaction, compiled for the ensemble when the model loads.

`model.json` (XGBoost's trees) -> one entry per root-to-leaf path: the distinct features it
splits on, the interval of values that follows it on each, its leaf value and cover fractions
-> for every combination of those features a row can follow, the Shapley values of that path
(`PathTables`) -> per transaction, a loop compiled by numba: which features of each path it
follows, one table row per path, summed by feature. Values equal XGBoost's
`pred_contribs=True` (path-dependent TreeSHAP) up to float32 rounding of the table.

Why it is exact: path-dependent TreeSHAP is additive over a tree's paths, and a path's values
depend on the row only through which of its d distinct features the row follows (d <= the
tree depth), so 2**d table rows hold every case (the GPUTreeShap decomposition). A path's game
is f(S) = v * prod_{j in S} o_j * prod_{j not in S} z_j: v its leaf value, o_j 1 when the row
follows the path on feature j, z_j the share of training cover that went the path's way at
feature j's splits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from model.errors import ModelArtifactError

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Path:
    features: list[int]  # distinct, in the order first split on
    lower: list[float]  # the row follows the path on feature j when lower <= x < upper,
    upper: list[float]
    missing: list[bool]  # or when x is missing and every split on j sends missing its way
    zero: list[float]  # z_j
    value: float
    # Two sibling leaves whose parent splits on a feature new to the path share one entry:
    # the last slot is the left leaf's side, the right leaf (`twin_*`) follows where it does
    # not. One table read serves both.
    twin_zero: float | None = None
    twin_value: float = 0.0

    def expected(self) -> float:
        prefix = math.prod(self.zero[:-1]) if self.zero else 1.0
        twin = 0.0 if self.twin_zero is None else self.twin_value * prefix * self.twin_zero
        return self.value * math.prod(self.zero) + twin


@dataclass(frozen=True)
class Tree:
    """One tree of XGBoost's JSON model; lists indexed by node id."""

    left: list[int]
    right: list[int]
    feature: list[int]
    condition: list[float]  # the threshold of a split, the value of a leaf
    default_left: list[int]
    cover: list[float]  # sum of hessians

    @classmethod
    def from_json(cls, tree: dict[str, Any]) -> Tree:
        if any(tree.get("split_type", ())):
            raise ValueError("categorical splits cannot be attributed")
        return cls(
            tree["left_children"],
            tree["right_children"],
            tree["split_indices"],
            tree["split_conditions"],
            tree["default_left"],
            tree["sum_hessian"],
        )

    def is_leaf(self, node: int) -> bool:
        return bool(self.left[node] == -1)


@dataclass(frozen=True)
class PathTables:
    """Every path's slots (its distinct features), padded to `width`, and its table.

    The row follows slot j of path p when `lower <= x[feature] < upper`, or when x is missing
    and `missing`. With m the bits of the slots it follows, the values of path p's `size`
    slots are `table[offset[p] + m * size[p] :][: size[p]]`, in slot order.
    """

    feature: npt.NDArray[np.int16]  # (paths, width)
    lower: npt.NDArray[np.float32]
    upper: npt.NDArray[np.float32]
    missing: npt.NDArray[np.bool_]
    size: npt.NDArray[np.int8]  # (paths,)
    offset: npt.NDArray[np.int64]
    table: npt.NDArray[np.float32]  # flat; float32 halves what a row reads from memory
    expected: float  # the trees' expected value: their part of the bias


def path_tables(trees: list[Tree]) -> PathTables:
    """The tables of the trees' paths."""
    paths = [path for tree in trees for path in _paths(tree)]
    width = max([len(p.features) for p in paths] + [1])
    size = np.array([len(p.features) for p in paths], dtype=np.int64)
    lengths = np.left_shift(1, size) * size
    offset = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    table = np.zeros(int(lengths.sum()), dtype=np.float64)
    shape = (len(paths), width)
    feature = np.zeros(shape, dtype=np.int16)
    lower = np.full(shape, np.inf, dtype=np.float32)
    upper = np.full(shape, np.inf, dtype=np.float32)
    missing = np.zeros(shape, dtype=np.bool_)
    for p, path in enumerate(paths):
        d = len(path.features)
        feature[p, :d] = path.features
        lower[p, :d], upper[p, :d], missing[p, :d] = path.lower, path.upper, path.missing
    for d in np.unique(size[size > 0]):
        members = np.flatnonzero(size == d)
        zero = np.array([paths[i].zero for i in members], dtype=np.float64).reshape(-1, d)
        value = np.array([paths[i].value for i in members], dtype=np.float64)
        values = _path_values(zero, value)
        twins = np.array([paths[i].twin_zero is not None for i in members], dtype=np.bool_)
        if twins.any():
            zero[twins, -1] = [paths[i].twin_zero for i in members[twins]]
            twin_value = np.array([paths[i].twin_value for i in members[twins]])
            flipped = np.arange(1 << d) ^ (1 << (d - 1))  # the twin follows where it does not
            values[twins] += _path_values(zero[twins], twin_value)[:, flipped, :]
        at = offset[members][:, None] + np.arange((1 << d) * d)[None, :]
        table[at] = values.reshape(len(members), -1)
    expected = float(sum(p.expected() for p in paths))
    return PathTables(
        feature,
        lower,
        upper,
        missing,
        size.astype(np.int8),
        offset,
        table.astype(np.float32),
        expected,
    )


def _paths(tree: Tree) -> list[_Path]:
    """Every root-to-leaf path of one tree, its splits merged per feature."""
    found: list[_Path] = []
    # node, {feature: (lower, upper, missing, zero)} in the order first split on
    stack: list[tuple[int, dict[int, tuple[float, float, bool, float]]]] = [(0, {})]
    while stack:
        node, on_path = stack.pop()
        if tree.is_leaf(node):
            order = list(on_path)
            found.append(
                _Path(
                    features=order,
                    lower=[on_path[f][0] for f in order],
                    upper=[on_path[f][1] for f in order],
                    missing=[on_path[f][2] for f in order],
                    zero=[on_path[f][3] for f in order],
                    value=float(tree.condition[node]),
                )
            )
            continue
        split = tree.feature[node]
        # XGBoost goes left when x < threshold, compared in float32.
        threshold = float(np.float32(tree.condition[node]))
        left_leaf, right_leaf = tree.left[node], tree.right[node]
        if split not in on_path and tree.is_leaf(left_leaf) and tree.is_leaf(right_leaf):
            order = [*on_path, split]
            cover = float(tree.cover[node])
            on_path = {**on_path, split: (-math.inf, threshold, bool(tree.default_left[node]), 0.0)}
            found.append(
                _Path(
                    features=order,
                    lower=[on_path[f][0] for f in order],
                    upper=[on_path[f][1] for f in order],
                    missing=[on_path[f][2] for f in order],
                    zero=[on_path[f][3] for f in order[:-1]]
                    + [float(tree.cover[left_leaf]) / cover],
                    value=float(tree.condition[left_leaf]),
                    twin_zero=float(tree.cover[right_leaf]) / cover,
                    twin_value=float(tree.condition[right_leaf]),
                )
            )
            continue
        for child, left in ((tree.left[node], True), (tree.right[node], False)):
            lower, upper, missing, zero = on_path.get(split, (-math.inf, math.inf, True, 1.0))
            if left:
                upper = min(upper, threshold)
            else:
                lower = max(lower, threshold)
            missing = missing and bool(tree.default_left[node]) == left
            zero *= float(tree.cover[child]) / float(tree.cover[node])
            stack.append((child, {**on_path, split: (lower, upper, missing, zero)}))
    return found


def _path_values(zero: Floats, value: Floats) -> Floats:
    """Shapley values of each path's game for every mask of followed slots: (paths, 2**d, d).

    phi_i = v (o_i - z_i) sum over S within F - {i} of |S|! (d - |S| - 1)! / d!
    prod_{j in S} o_j prod_{j in F - {i} - S} z_j, with o_j bit j of the mask.
    """
    n, d = zero.shape
    masks = np.arange(1 << d)
    follows = ((masks[:, None] >> np.arange(d)[None, :]) & 1).astype(np.float64)  # (2**d, d)
    result = np.zeros((n, 1 << d, d), dtype=np.float64)
    for i in range(d):
        others = [j for j in range(d) if j != i]
        total = np.zeros((n, 1 << d), dtype=np.float64)
        for size in range(len(others) + 1):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for chosen in combinations(others, size):
                rest = [j for j in others if j not in chosen]
                ones = np.prod(follows[:, list(chosen)], axis=1)  # (2**d,)
                zeros = np.prod(zero[:, rest], axis=1)  # (n,)
                total += weight * zeros[:, None] * ones[None, :]
        result[:, :, i] = value[:, None] * (follows[None, :, i] - zero[:, i, None]) * total
    return result


def _kernel_source(
    row: npt.NDArray[np.float32],
    feature: npt.NDArray[np.int16],
    lower: npt.NDArray[np.float32],
    upper: npt.NDArray[np.float32],
    missing: npt.NDArray[np.bool_],
    size: npt.NDArray[np.int8],
    offset: npt.NDArray[np.int64],
    table: npt.NDArray[np.float32],
    out: Floats,
) -> None:
    """Add each path's values for `row` to `out` (compiled by numba; plain Python works too).

    Masks first, then the table reads: the reads do not depend on each other, so the
    processor overlaps their cache misses."""
    paths = feature.shape[0]
    start = np.empty(paths, dtype=np.int64)
    for p in range(paths):
        mask = np.int64(0)
        for j in range(size[p]):
            x = row[feature[p, j]]
            follows = ((x >= lower[p, j]) & (x < upper[p, j])) | ((x != x) & missing[p, j])
            mask |= np.int64(follows) << j
        start[p] = offset[p] + mask * size[p]
    # Paths of one tree share their first feature: four accumulators keep consecutive adds
    # from waiting on each other.
    sums = np.zeros((4, out.shape[0]), dtype=np.float64)
    for p in range(paths):
        lane = p & 3
        for j in range(size[p]):
            sums[lane, feature[p, j]] += table[start[p] + j]
    for lane in range(4):
        out += sums[lane]


_Kernel = Callable[..., None]
_compiled: _Kernel | None = None


def _kernel() -> _Kernel:
    """The kernel compiled on first use (about a second; once per process)."""
    global _compiled
    if _compiled is None:
        import numba  # lazily: importing it costs 0.3 s, compiling more

        _compiled = cast(_Kernel, numba.njit(nogil=True, cache=False)(_kernel_source))
    return _compiled


@dataclass(frozen=True)
class TreeShap:
    """Exact TreeSHAP of an XGBoost binary classifier's margin. Build it with `from_xgboost`.

    >>> shap = TreeShap.from_xgboost(path, path.read_bytes(), features=121, trees=171)
    >>> contributions = shap.contributions(row)  # bias + contributions.sum() == margin
    """

    features: int
    bias: float  # base margin + the trees' expected value
    tables: PathTables

    @classmethod
    def from_xgboost(cls, path: Path, content: bytes, features: int, trees: int) -> TreeShap:
        """Tables for the first `trees` trees of the XGBoost JSON model `content` (read from
        `path`, named in messages). Raises `ModelArtifactError` naming the file and field when
        it is not a binary logistic gbtree over `features` features with `trees` trees."""
        try:
            learner = json.loads(content)["learner"]
            found, base_margin = _read_learner(path, learner, features)
            if len(found) < trees:
                raise ModelArtifactError(
                    f"{path}: field 'learner.gradient_booster.model.trees' holds {len(found)} "
                    f"trees; the manifest's best_iteration needs {trees}"
                )
            tables = path_tables([Tree.from_json(tree) for tree in found[:trees]])
        except (KeyError, IndexError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise ModelArtifactError(f"{path}: not an XGBoost JSON model: {exc!r}") from exc
        if tables.feature.size and int(tables.feature.max()) >= features:
            raise ModelArtifactError(f"{path}: a tree splits on a feature beyond {features}")
        return cls(features, base_margin + tables.expected, tables)

    def contributions(self, row: npt.NDArray[np.float32]) -> Floats:
        """Each feature's exact TreeSHAP value (log-odds) for one row of `features` float32
        values in manifest order (NaN missing)."""
        out = np.zeros(self.features, dtype=np.float64)
        t = self.tables
        values = np.ascontiguousarray(row, dtype=np.float32).reshape(-1)
        _kernel()(values, t.feature, t.lower, t.upper, t.missing, t.size, t.offset, t.table, out)
        return out


def _read_learner(path: Path, learner: dict[str, Any], features: int) -> tuple[Any, float]:
    params = learner["learner_model_param"]
    booster = learner["gradient_booster"]
    found = {
        "learner.objective.name": (learner["objective"]["name"], "binary:logistic"),
        "learner.gradient_booster.name": (booster["name"], "gbtree"),
        "learner.learner_model_param.num_feature": (params["num_feature"], str(features)),
        "learner.learner_model_param.num_target": (params.get("num_target", "1"), "1"),
    }
    for field, (value, wanted) in found.items():
        if value != wanted:
            raise ModelArtifactError(f"{path}: field {field!r} is {value!r}, expected {wanted!r}")
    # "[9.8E-3]" since XGBoost 3, a bare number before; a probability for binary:logistic.
    base_score = float(str(params["base_score"]).strip("[]"))
    return booster["model"]["trees"], math.log(base_score / (1 - base_score))
