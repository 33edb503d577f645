from __future__ import annotations

import numpy as np
import pytest

from training.metrics import EvaluationSet, card_precision_at_k, evaluate, recall_at_fpr


def _set(y: list[int], score: list[float], cards: list[str], days: list[int]) -> EvaluationSet:
    return EvaluationSet(
        y_true=np.array(y, dtype=np.int8),
        score=np.array(score, dtype=np.float64),
        card_id=np.array(cards, dtype=object),
        day=np.array(days, dtype=np.int64),
        amount_usd=np.ones(len(y)),
    )


def test_card_precision_at_k_skips_cards_caught_on_earlier_days() -> None:
    data = _set(
        y=[1, 0, 0, 0, 1, 1, 0, 0, 0, 0],
        score=[0.9, 0.8, 0.1, 0.2, 0.95, 0.9, 0.7, 0.1, 0.2, 0.3],
        cards=["a", "b", "c", "d", "a", "c", "b", "d", "e", "e"],
        days=[1, 1, 1, 1, 2, 2, 2, 2, 2, 2],
    )
    # Day 1: top-2 cards by max score are a (fraud) and b: 1/2; a is caught.
    # Day 2: a is left out; the top-2 of c (0.9, fraud), b (0.7), e, d are c and b: 1/2.
    assert card_precision_at_k(data, k=2) == pytest.approx(0.5)
    # With k=1: day 1 a (fraud) = 1; day 2 without a: c (fraud) = 1.
    assert card_precision_at_k(data, k=1) == pytest.approx(1.0)


def test_recall_at_review_rate_counts_fraud_in_the_top_share() -> None:
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    score = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    data = _set(y, score, [f"c{i}" for i in range(10)], [0] * 10)
    metrics = evaluate(data, review_rates=(0.1, 0.3), fpr_points=(0.0,), k=3)
    assert metrics["recall_at_review_rate"] == {"0.1": pytest.approx(1 / 3), "0.3": 2 / 3}


def test_recall_at_fpr_is_the_best_recall_within_the_rate() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0], dtype=np.int8)
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    assert recall_at_fpr(y, score, 0.0) == pytest.approx(2 / 3)
    assert recall_at_fpr(y, score, 0.2) == pytest.approx(1.0)


def test_roc_auc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.2).astype(np.int8)
    score = rng.random(300) + 0.3 * y
    data = _set(list(y), list(score), ["c"] * 300, [0] * 300)
    positives, negatives = score[y == 1], score[y == 0]
    pairwise = np.mean(positives[:, None] > negatives[None, :])
    assert evaluate(data)["roc_auc"] == pytest.approx(pairwise)


def test_evaluate_refuses_a_window_with_one_class() -> None:
    data = _set([0, 0, 0], [0.1, 0.2, 0.3], ["a", "b", "c"], [0, 0, 0])
    with pytest.raises(ValueError, match="0 fraud and 3 legitimate"):
        evaluate(data)
