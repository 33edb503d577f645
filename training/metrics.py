"""Metrics fraud teams use, computed on one evaluation window (validation or test).

Sits after fitting in the offline flow: `training.pipeline` scores a window, `evaluate` turns
the scores into the numbers of the manifest and the model card.

* ROC AUC: the chance that a random fraud scores above a random legitimate transaction.
* Average precision: the area under the precision-recall curve; honest under rare fraud.
* Recall at FPR: the share of fraud caught when at most that share of legitimate
  transactions is flagged.
* Recall at review rate: the share of fraud (and of fraud amount) among the top-scored share of
  all transactions, the share an operations team can review.
* Card precision@k: each day, the share of defrauded cards among the k top-scored cards not
  already caught on an earlier day, averaged over days; how investigators work a daily queue.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

FPR_POINTS = (0.001, 0.005, 0.01, 0.05)
REVIEW_RATES = (0.005, 0.01, 0.02, 0.05)


@dataclass(frozen=True)
class EvaluationSet:
    """One window's transactions: labels, scores and what the fraud-team metrics group by."""

    y_true: npt.NDArray[np.int8]  # 1 fraud, 0 legitimate
    score: npt.NDArray[np.float64]  # calibrated fraud probability
    card_id: npt.NDArray[np.object_]
    day: npt.NDArray[np.int64]  # UTC day index (days since the epoch)
    amount_usd: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        lengths = {field.name: len(getattr(self, field.name)) for field in fields(self)}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{name} {length}" for name, length in lengths.items())
            raise ValueError(f"EvaluationSet arrays differ in length ({shown}); need one each")


def evaluate(
    data: EvaluationSet,
    *,
    fpr_points: tuple[float, ...] = FPR_POINTS,
    review_rates: tuple[float, ...] = REVIEW_RATES,
    k: int = 100,
) -> dict[str, object]:
    """Every metric of the module docstring, as plain JSON-serialisable values.

    Keys of the nested dicts are the points as strings: `evaluate(window)["recall_at_fpr"]
    ["0.001"]` is the share of fraud caught when 0.1% of legitimate payments are flagged.
    Raises `ValueError` when the window holds only one class or an argument is out of range.
    """
    _check(data, fpr_points, review_rates, k)
    y, score = data.y_true, data.score
    frauds = int(y.sum())
    return {
        "transactions": len(y),
        "frauds": frauds,
        "fraud_rate": frauds / len(y),
        "roc_auc": float(roc_auc_score(y, score)),
        "average_precision": float(average_precision_score(y, score)),
        "recall_at_fpr": {str(p): recall_at_fpr(y, score, p) for p in fpr_points},
        "recall_at_review_rate": {str(r): recall_at_review_rate(y, score, r) for r in review_rates},
        "amount_recall_at_review_rate": {
            str(r): recall_at_review_rate(y, score, r, weight=data.amount_usd) for r in review_rates
        },
        "card_precision_at_k": card_precision_at_k(data, k),
        "card_precision_at_k_k": k,
    }


def _check(
    data: EvaluationSet, fpr_points: tuple[float, ...], review_rates: tuple[float, ...], k: int
) -> None:
    y = data.y_true
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 (legitimate) and 1 (fraud)")
    frauds = int(y.sum())
    if frauds in (0, len(y)):
        raise ValueError(
            f"the evaluation window has only one class ({frauds} fraud, {len(y) - frauds} "
            "legitimate transactions); ROC AUC, precision and recall need both"
        )
    if np.isnan(data.score).any():
        first = int(np.flatnonzero(np.isnan(data.score))[0])
        raise ValueError(f"score is NaN at row {first}; every transaction needs a score")
    if not all(0 <= p <= 1 for p in fpr_points):
        raise ValueError(f"fpr_points {fpr_points}: each must lie in [0, 1]")
    if not all(0 < r <= 1 for r in review_rates):
        raise ValueError(f"review_rates {review_rates}: each must lie in (0, 1]")
    if k < 1:
        raise ValueError(f"k = {k}: card precision needs k >= 1")


def recall_at_fpr(y: npt.NDArray[np.int8], score: npt.NDArray[np.float64], fpr: float) -> float:
    """The highest recall a threshold reaches with a false-positive rate of at most `fpr`."""
    # Keep every threshold: with tied scores the dropped "collinear" points are reachable.
    fprs, tprs, _ = roc_curve(y, score, drop_intermediate=False)
    return float(tprs[fprs <= fpr].max())


def recall_at_review_rate(
    y: npt.NDArray[np.int8],
    score: npt.NDArray[np.float64],
    rate: float,
    weight: npt.NDArray[np.float64] | None = None,
) -> float:
    """Share of fraud (of fraud `weight`, such as amount) in the top `rate` of transactions.

    The reviewed count is `rate` times the transactions, rounded, at least one; ties in score
    keep the transactions' order.
    """
    reviewed = max(1, round(rate * len(y)))
    top = np.argsort(-score, kind="stable")[:reviewed]
    fraud_weight = y * (np.ones(len(y)) if weight is None else weight)
    total = float(fraud_weight.sum())
    return float(fraud_weight[top].sum()) / total if total else 0.0


def card_precision_at_k(data: EvaluationSet, k: int) -> float:
    """Mean over days of the fraud share among the day's k top-scored, not yet caught cards.

    A card is caught once it is in a day's top k with a fraud that day; it leaves later days'
    ranking. A day with fewer than k candidate cards uses those it has; a day with none is
    skipped. Cards with equal scores keep the order in which they first appear.
    """
    caught: set[object] = set()
    precisions: list[float] = []
    for _, cards in _daily_cards(data).groupby("day", sort=True):
        queue = cards[~cards["card"].isin(caught)].head(k)
        if queue.empty:
            continue
        precisions.append(float(queue["fraud"].mean()))
        caught.update(queue.loc[queue["fraud"], "card"])
    return float(np.mean(precisions)) if precisions else 0.0


def _daily_cards(data: EvaluationSet) -> pd.DataFrame:
    """One row per (day, card): the card's highest score and whether it had fraud that day,
    ordered by day, then score from the highest."""
    transactions = pd.DataFrame(
        {"day": data.day, "card": data.card_id, "score": data.score, "fraud": data.y_true == 1}
    )
    cards = transactions.groupby(["day", "card"], sort=False, as_index=False, dropna=False).agg(
        score=("score", "max"), fraud=("fraud", "any")
    )
    order = np.lexsort((-cards["score"].to_numpy(), cards["day"].to_numpy()))
    return cards.iloc[order]
