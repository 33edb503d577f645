"""Metrics fraud teams use, computed on one evaluation window (validation or test).

* ROC AUC: how well scores rank fraud above legitimate, over all thresholds.
* Average precision: the area under the precision-recall curve; honest under rare fraud.
* Recall at FPR: the share of fraud caught when at most that share of legitimate
  transactions is flagged.
* Recall at review rate: the share of fraud (and of fraud amount) among the top-scored share of
  all transactions, the share an operations team can review.
* Card precision@k per day: each day, the share of truly defrauded cards among the k cards
  with the highest score that day, leaving out cards already caught on earlier days; averaged
  over days. It matches how investigators work a daily queue of cards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

FPR_POINTS = (0.001, 0.005, 0.01, 0.05)
REVIEW_RATES = (0.005, 0.01, 0.02, 0.05)


@dataclass(frozen=True)
class EvaluationSet:
    y_true: npt.NDArray[np.int8]
    score: npt.NDArray[np.float64]
    card_id: npt.NDArray[np.object_]
    day: npt.NDArray[np.int64]
    amount_usd: npt.NDArray[np.float64]


def evaluate(
    data: EvaluationSet,
    *,
    fpr_points: tuple[float, ...] = FPR_POINTS,
    review_rates: tuple[float, ...] = REVIEW_RATES,
    k: int = 100,
) -> dict[str, object]:
    """Every metric of the module docstring, as plain JSON-serialisable values."""
    y, score = data.y_true, data.score
    frauds = int(y.sum())
    if frauds == 0 or frauds == len(y):
        raise ValueError(
            f"the window has {frauds} fraud and {len(y) - frauds} legitimate transactions; "
            "metrics need both"
        )
    return {
        "transactions": len(y),
        "frauds": frauds,
        "fraud_rate": frauds / len(y),
        "roc_auc": float(roc_auc_score(y, score)),
        "average_precision": float(average_precision_score(y, score)),
        "recall_at_fpr": {str(p): recall_at_fpr(y, score, p) for p in fpr_points},
        "recall_at_review_rate": {str(r): _top_share(y, score, y, r) for r in review_rates},
        "amount_recall_at_review_rate": {
            str(r): _top_share(y, score, y * data.amount_usd, r) for r in review_rates
        },
        "card_precision_at_k": card_precision_at_k(data, k),
        "card_precision_at_k_k": k,
    }


def recall_at_fpr(y: npt.NDArray[np.int8], score: npt.NDArray[np.float64], fpr: float) -> float:
    """The highest recall reachable with a false-positive rate of at most `fpr`."""
    fprs, tprs, _ = roc_curve(y, score)
    return float(tprs[fprs <= fpr].max())


def _top_share(
    y: npt.NDArray[np.int8],
    score: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64] | npt.NDArray[np.int8],
    rate: float,
) -> float:
    """Share of fraud `weight` among the top `rate` of transactions by score."""
    reviewed = max(1, round(rate * len(y)))
    top = np.argsort(-score, kind="stable")[:reviewed]
    fraud_weight = weight * y
    total = float(fraud_weight.sum())
    return float(fraud_weight[top].sum()) / total if total else 0.0


def card_precision_at_k(data: EvaluationSet, k: int) -> float:
    """Mean over days of the fraud share among the day's k top-scored, not yet caught cards."""
    caught: set[object] = set()
    precisions = []
    for day in np.unique(data.day):
        today = data.day == day
        cards: dict[object, tuple[float, bool]] = {}
        for card, score, fraud in zip(
            data.card_id[today], data.score[today], data.y_true[today], strict=True
        ):
            best, any_fraud = cards.get(card, (-1.0, False))
            cards[card] = (max(best, float(score)), any_fraud or bool(fraud))
        candidates = [(s, f, c) for c, (s, f) in cards.items() if c not in caught]
        candidates.sort(key=lambda item: -item[0])
        top = candidates[:k]
        if not top:
            continue
        precisions.append(sum(f for _, f, _ in top) / len(top))
        caught.update(c for _, f, c in top if f)
    return float(np.mean(precisions)) if precisions else 0.0
