"""Per-feature attributions of the margin, compiled to ONNX and checked against XGBoost.

XGBoost trees -> Saabas path attributions of every leaf -> an ONNX tree ensemble beside the
classifier in one graph (`attributions.onnx`) -> refused unless it matches XGBoost's
`approx_contribs`, margin and probabilities on the test window.

Saabas attributions are what XGBoost computes with `approx_contribs=True`: a node's value is
the cover-weighted mean of its leaves; each split on the path to a leaf credits its feature
with the value of the child taken minus the node's value; the bias is the sum of the roots'
values plus the base margin, so bias + contributions = margin. What a leaf credits does not
depend on the row, so the leaves of a TreeEnsembleRegressor can hold it and ONNX Runtime only
walks the trees: one run gives the probability and the attributions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import xgboost as xgb
from onnx import TensorProto, helper

from model.manifest import ATTRIBUTIONS_FILE, CONTRIBUTIONS_OUTPUT, PROBABILITIES_OUTPUT
from model.parity import MARGIN_TOLERANCE
from training.export import ONNX_INPUT, PARITY_TOLERANCE, ParityError, onnx_session

ATTRIBUTION_TOLERANCE = MARGIN_TOLERANCE  # the check at load uses the same
_LEAF = -1


class AttributionError(ParityError):
    """The attributions cannot be built for this model or disagree with XGBoost's."""


@dataclass(frozen=True)
class AttributionExport:
    model_bytes: bytes
    rows: int
    max_abs_diff: float
    max_margin_diff: float
    max_probability_diff: float


@dataclass(frozen=True)
class Tree:
    """One tree of XGBoost's JSON model; arrays indexed by node id."""

    left: list[int]
    right: list[int]
    feature: list[int]
    condition: list[float]  # the threshold of a split, the value of a leaf
    default_left: list[int]
    cover: npt.NDArray[np.float32]  # sum of hessians

    @classmethod
    def from_json(cls, tree: dict[str, Any], index: int) -> Tree:
        if any(tree["split_type"]):
            raise AttributionError(f"tree {index}: categorical splits cannot be attributed")
        return cls(
            left=tree["left_children"],
            right=tree["right_children"],
            feature=tree["split_indices"],
            condition=tree["split_conditions"],
            default_left=tree["default_left"],
            cover=np.asarray(tree["sum_hessian"], dtype=np.float32),
        )

    def is_leaf(self, node: int) -> bool:
        return self.left[node] == _LEAF


def export_attributions(
    classifier: xgb.XGBClassifier, classifier_onnx: bytes, check: npt.NDArray[np.float32]
) -> AttributionExport:
    """Build `attributions.onnx` around the exported classifier and check it on `check` rows.

    Raises `AttributionError` when the model is of a kind this does not attribute, or when
    a contribution or the margin differs from XGBoost's by more than `ATTRIBUTION_TOLERANCE`,
    or a probability by more than `PARITY_TOLERANCE`.
    """
    trees, base_margin = read_booster(classifier, check.shape[1])
    node = _attribution_node(trees, check.shape[1], base_margin)
    model = _explain_model(classifier_onnx, node, check.shape[1] + 1)
    exported = _compare(model.SerializeToString(), classifier, check, len(trees))
    for what, value, tolerance in (
        ("contributions differ from XGBoost's", exported.max_abs_diff, ATTRIBUTION_TOLERANCE),
        ("sums differ from XGBoost's margin", exported.max_margin_diff, ATTRIBUTION_TOLERANCE),
        ("probabilities differ from XGBoost's", exported.max_probability_diff, PARITY_TOLERANCE),
    ):
        if not value <= tolerance:
            raise AttributionError(
                f"{ATTRIBUTIONS_FILE}: {what} by up to {value:.3g} on {exported.rows} test "
                f"rows (tolerance {tolerance}); not publishing"
            )
    return exported


def tree_count(classifier: xgb.XGBClassifier) -> int:
    """The trees the classifier predicts with: up to its best iteration when it stopped early."""
    try:
        return int(classifier.best_iteration) + 1
    except AttributeError:
        return int(classifier.get_booster().num_boosted_rounds())


def read_booster(classifier: xgb.XGBClassifier, features: int) -> tuple[list[Tree], float]:
    """The trees the classifier predicts with and its base margin, from its JSON model."""
    learner = json.loads(classifier.get_booster().save_raw("json"))["learner"]
    objective = learner["objective"]["name"]
    booster = learner["gradient_booster"]
    params = learner["learner_model_param"]
    found = {
        "objective": (objective, "binary:logistic"),
        "booster": (booster["name"], "gbtree"),
        "num_feature": (params["num_feature"], str(features)),
        "num_target": (params.get("num_target", "1"), "1"),
        "num_parallel_tree": (booster["model"]["gbtree_model_param"]["num_parallel_tree"], "1"),
    }
    for name, (value, expected) in found.items():
        if value != expected:
            raise AttributionError(f"model {name} is {value!r}; attributions need {expected!r}")
    # "[9.8E-3]" since XGBoost 3, a bare number before; a probability for binary:logistic.
    base_score = float(str(params["base_score"]).strip("[]"))
    base_margin = math.log(base_score / (1 - base_score))
    trees = booster["model"]["trees"][: tree_count(classifier)]
    return [Tree.from_json(tree, i) for i, tree in enumerate(trees)], base_margin


def _node_means(tree: Tree) -> npt.NDArray[np.float32]:
    """Each node's cover-weighted mean leaf value, in float32 as XGBoost's FillNodeMeanValues."""
    means = np.zeros(len(tree.left), dtype=np.float32)
    order, stack = [], [0]
    while stack:  # pre-order: a node before its children
        node = stack.pop()
        order.append(node)
        if not tree.is_leaf(node):
            stack += [tree.left[node], tree.right[node]]
    for node in reversed(order):
        if tree.is_leaf(node):
            means[node] = tree.condition[node]
            continue
        left, right = tree.left[node], tree.right[node]
        total = means[left] * tree.cover[left] + means[right] * tree.cover[right]
        means[node] = total / tree.cover[node]
    return means


def _leaf_votes(tree: Tree, bias_target: int) -> Iterator[tuple[int, int, float]]:
    """(leaf, target, weight): each leaf's non-zero path contributions, then the root's mean."""
    means = _node_means(tree)
    stack: list[tuple[int, dict[int, float]]] = [(0, {})]
    while stack:
        node, credited = stack.pop()
        if tree.is_leaf(node):
            for feature, value in sorted(credited.items()):
                if value != 0.0:
                    yield node, feature, value
            # Every leaf votes for the bias: ONNX Runtime outputs 0, ignoring the base value,
            # for a target no leaf of the row voted for.
            yield node, bias_target, float(means[0])
            continue
        feature = tree.feature[node]
        for child in (tree.left[node], tree.right[node]):
            step = float(means[child] - means[node])
            stack.append((child, {**credited, feature: credited.get(feature, 0.0) + step}))


def _attribution_node(trees: list[Tree], features: int, base_margin: float) -> onnx.NodeProto:
    """A TreeEnsembleRegressor with the model's trees and the leaves' attribution vectors."""
    nodes: dict[str, Any] = {}  # attribute name -> values, one per node
    votes: dict[str, Any] = {}  # attribute name -> values, one per (leaf, target) weight
    for index, tree in enumerate(trees):
        for node in range(len(tree.left)):
            leaf = tree.is_leaf(node)
            # XGBoost goes left when x < threshold (float32) and, for a missing value, to its
            # default side: BRANCH_LT with true = left, as onnxmltools encodes model.onnx.
            for name, value in (
                ("nodes_treeids", index),
                ("nodes_nodeids", node),
                ("nodes_modes", "LEAF" if leaf else "BRANCH_LT"),
                ("nodes_featureids", 0 if leaf else tree.feature[node]),
                ("nodes_values", 0.0 if leaf else tree.condition[node]),
                ("nodes_truenodeids", 0 if leaf else tree.left[node]),
                ("nodes_falsenodeids", 0 if leaf else tree.right[node]),
                ("nodes_missing_value_tracks_true", 0 if leaf else tree.default_left[node]),
            ):
                nodes.setdefault(name, []).append(value)
        for leaf_id, target, weight in _leaf_votes(tree, bias_target=features):
            for name, value in (
                ("target_treeids", index),
                ("target_nodeids", leaf_id),
                ("target_ids", target),
                ("target_weights", weight),
            ):
                votes.setdefault(name, []).append(value)
    return helper.make_node(
        "TreeEnsembleRegressor",
        [ONNX_INPUT],
        [CONTRIBUTIONS_OUTPUT],
        name="Attributions",
        domain="ai.onnx.ml",
        n_targets=features + 1,
        aggregate_function="SUM",
        post_transform="NONE",
        base_values=[0.0] * features + [base_margin],
        **nodes,
        **votes,
    )


def _explain_model(
    classifier_onnx: bytes, attributions: onnx.NodeProto, targets: int
) -> onnx.ModelProto:
    """The classifier graph, unchanged, with the attribution node beside it."""
    model = onnx.load_model_from_string(classifier_onnx)
    outputs = {output.name: output for output in model.graph.output}
    if PROBABILITIES_OUTPUT not in outputs:
        raise AttributionError(
            f"the classifier's ONNX graph has no output {PROBABILITIES_OUTPUT!r} "
            f"(it has {sorted(outputs)})"
        )
    del model.graph.output[:]
    model.graph.output.extend(
        [
            outputs[PROBABILITIES_OUTPUT],
            helper.make_tensor_value_info(CONTRIBUTIONS_OUTPUT, TensorProto.FLOAT, [None, targets]),
        ]
    )
    model.graph.node.append(attributions)
    model.graph.name = "riskscore-attributions"
    onnx.checker.check_model(model)
    return model


def _compare(
    model_bytes: bytes,
    classifier: xgb.XGBClassifier,
    check: npt.NDArray[np.float32],
    trees: int,
) -> AttributionExport:
    if not len(check):
        return AttributionExport(model_bytes, 0, 0.0, 0.0, 0.0)
    probabilities, contributions = onnx_session(model_bytes).run(
        [PROBABILITIES_OUTPUT, CONTRIBUTIONS_OUTPUT], {ONNX_INPUT: check}
    )
    ours = np.asarray(contributions, dtype=np.float64)
    expected = classifier.get_booster().predict(
        xgb.DMatrix(check, missing=np.nan),
        pred_contribs=True,
        approx_contribs=True,
        iteration_range=(0, trees),
    )
    margin = classifier.predict(check, output_margin=True).astype(np.float64)
    xgb_probabilities = classifier.predict_proba(check)[:, 1].astype(np.float64)
    return AttributionExport(
        model_bytes,
        rows=len(check),
        max_abs_diff=float(np.max(np.abs(ours - expected))),
        max_margin_diff=float(np.max(np.abs(ours.sum(axis=1) - margin))),
        max_probability_diff=float(np.max(np.abs(probabilities[:, 1] - xgb_probabilities))),
    )
