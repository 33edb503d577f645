"""The parity sample written into every artifact: rows that reach every leaf, scored by XGBoost.

test window + edge rows + rows built from the trees' thresholds -> XGBoost's margin, calibrated
score and attributions -> `parity_sample.npz`, which `load_model` re-runs through both ONNX
graphs. Reaching every leaf means no leaf weight can change without some row showing it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from model.calibration import calibrate
from model.manifest import Calibration, ParitySampleSummary
from model.parity import ParitySample
from training.attributions import Tree, read_booster

Matrix = npt.NDArray[np.float32]
# Test rows spread evenly over the ranks of their margins: the lowest, the highest and between.
SPREAD_ROWS = 64
# Some of those again with a third of their values removed: every default direction.
HOLED_ROWS = 16
_FLOAT32_MAX = np.finfo(np.float32).max


def build_parity_sample(
    classifier: xgb.XGBClassifier, calibration: Calibration, test: Matrix, seed: int = 7
) -> tuple[ParitySample, ParitySampleSummary]:
    """Rows from `test` and constructed rows that together reach every leaf, if they can, of
    the trees the classifier predicts with; and XGBoost's outputs for them."""
    features = test.shape[1]
    trees, _ = read_booster(classifier, features)
    booster = classifier.get_booster()
    spread = _spread(booster, test, len(trees))
    rng = np.random.default_rng(seed)
    holed = spread[rng.choice(len(spread), min(HOLED_ROWS, len(spread)), replace=False)]
    holed[rng.random(holed.shape) < 1 / 3] = np.nan
    edges = _edge_rows(features)
    chosen = _reach_more(booster, trees, np.concatenate([edges, spread, holed]), test)
    from_test = len(chosen) - len(edges)
    constructed = [row for tree in trees for row in _threshold_rows(tree, features)]
    candidates = np.asarray(constructed, dtype=np.float32).reshape(-1, features)
    rows = _reach_more(booster, trees, chosen, candidates)
    sample = _expected(booster, calibration, rows, len(trees))
    leaves = sum(len(_leaves(tree)) for tree in trees)
    summary = ParitySampleSummary(
        rows=len(rows),
        constructed=len(rows) - from_test,
        leaves=leaves,
        leaves_reached=int(_reached(booster, rows, len(trees)).sum()),
    )
    return sample, summary


def _spread(booster: xgb.Booster, test: Matrix, trees: int) -> Matrix:
    if not len(test):
        return np.empty((0, test.shape[1]), dtype=np.float32)
    margins = booster.predict(xgb.DMatrix(test), output_margin=True, iteration_range=(0, trees))
    ranks = np.linspace(0, len(test) - 1, min(SPREAD_ROWS, len(test))).round().astype(np.int64)
    return test[np.argsort(margins, kind="stable")[ranks]]


def _edge_rows(features: int) -> Matrix:
    """Every value missing, every value zero, the largest and the most negative float32."""
    values = (np.nan, 0.0, _FLOAT32_MAX, -_FLOAT32_MAX)
    return np.array([[value] * features for value in values], dtype=np.float32)


def _leaves(tree: Tree) -> list[int]:
    return [node for node in range(len(tree.left)) if tree.is_leaf(node)]


def _leaf_ids(booster: xgb.Booster, rows: Matrix, trees: int) -> npt.NDArray[np.int64]:
    """(rows, trees): the node id of the leaf each row reaches in each tree."""
    if not len(rows):
        return np.empty((0, trees), dtype=np.int64)
    leaf = booster.predict(xgb.DMatrix(rows), pred_leaf=True, iteration_range=(0, trees))
    return np.asarray(leaf, dtype=np.int64).reshape(len(rows), trees)


def _reached(booster: xgb.Booster, rows: Matrix, trees: int) -> npt.NDArray[np.bool_]:
    """(trees, nodes): which leaves some row reaches."""
    ids = _leaf_ids(booster, rows, trees)
    reached = np.zeros((trees, int(ids.max(initial=0)) + 1), dtype=np.bool_)
    reached[np.broadcast_to(np.arange(trees), ids.shape), ids] = True
    return reached


def _reach_more(
    booster: xgb.Booster, trees: list[Tree], chosen: Matrix, candidates: Matrix
) -> Matrix:
    """`chosen` and, in order, each candidate that reaches a leaf nothing chosen reaches yet."""
    width = max(len(tree.left) for tree in trees)
    reached = np.zeros((len(trees), width), dtype=np.bool_)
    ids = _leaf_ids(booster, chosen, len(trees))
    reached[np.broadcast_to(np.arange(len(trees)), ids.shape), ids] = True
    taken = []
    for index, row_ids in enumerate(_leaf_ids(booster, candidates, len(trees))):
        if not reached[np.arange(len(trees)), row_ids].all():
            reached[np.arange(len(trees)), row_ids] = True
            taken.append(index)
    return np.concatenate([chosen, candidates[taken]])


def _threshold_rows(tree: Tree, features: int) -> list[Matrix]:
    """For each leaf, a row that reaches it: each feature on its path at the lowest value the
    path allows (a threshold itself: the edge a split turns on) or just below the only bound,
    missing where only a missing value takes the path; other features missing."""
    parents: dict[int, tuple[int, bool]] = {}
    for node in range(len(tree.left)):
        if not tree.is_leaf(node):
            parents[tree.left[node]] = (node, True)
            parents[tree.right[node]] = (node, False)
    rows = []
    for leaf in _leaves(tree):
        low = np.full(features, -np.inf, dtype=np.float32)
        high = np.full(features, np.inf, dtype=np.float32)
        missing = np.ones(features, dtype=np.bool_)
        on_path = np.zeros(features, dtype=np.bool_)
        node = leaf
        while node in parents:  # XGBoost goes left when x < threshold (float32)
            node, left = parents[node]
            feature, threshold = tree.feature[node], np.float32(tree.condition[node])
            if left:
                high[feature] = min(high[feature], threshold)
            else:
                low[feature] = max(low[feature], threshold)
            missing[feature] &= bool(tree.default_left[node]) == left
            on_path[feature] = True
        row = np.full(features, np.nan, dtype=np.float32)
        feasible = low < high
        if (on_path & ~feasible & ~missing).any():
            continue  # no value reaches this leaf; XGBoost keeps such leaves only by accident
        fixed = on_path & feasible
        lowest = np.where(np.isfinite(low), low, np.nextafter(high, np.float32(-np.inf)))
        row[fixed] = lowest[fixed]
        rows.append(row)
    return rows


def _expected(
    booster: xgb.Booster, calibration: Calibration, rows: Matrix, trees: int
) -> ParitySample:
    matrix = xgb.DMatrix(rows, missing=np.nan)
    margin = booster.predict(matrix, output_margin=True, iteration_range=(0, trees))
    contributions = booster.predict(
        matrix, pred_contribs=True, approx_contribs=True, iteration_range=(0, trees)
    )
    return ParitySample(
        features=rows,
        margin=np.asarray(margin, dtype=np.float32),
        score=calibrate(calibration, np.asarray(margin, dtype=np.float64)),
        contributions=np.asarray(contributions, dtype=np.float32),
    )
