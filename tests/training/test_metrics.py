from __future__ import annotations

import json

import numpy as np
import pytest

from training.metrics import (
    EvaluationSet,
    card_precision_at_k,
    evaluate,
    recall_at_fpr,
    recall_at_review_rate,
)


def _set(
    y: list[int],
    score: list[float],
    cards: list[str] | None = None,
    days: list[int] | None = None,
    amounts: list[float] | None = None,
) -> EvaluationSet:
    n = len(y)
    return EvaluationSet(
        y_true=np.array(y, dtype=np.int8),
        score=np.array(score, dtype=np.float64),
        card_id=np.array(cards or [f"c{i}" for i in range(n)], dtype=object),
        day=np.array(days or [0] * n, dtype=np.int64),
        amount_usd=np.array(amounts or [1.0] * n, dtype=np.float64),
    )


def _two_days_four_cards() -> EvaluationSet:
    """Per card and day (max score, any fraud):
    day 1: a (0.9, F), b (0.8, -), c (0.3, F: its fraud is its 0.1 transaction), d (0.2, -)
    day 2: a (0.95, F), d (0.75, F: its fraud is its 0.4 transaction), b (0.7, -), c (0.6, -)
    """
    return _set(
        y=[1, 0, 0, 1, 0, 1, 0, 0, 0, 1],
        score=[0.9, 0.8, 0.3, 0.1, 0.2, 0.95, 0.7, 0.6, 0.75, 0.4],
        cards=["a", "b", "c", "c", "d", "a", "b", "c", "d", "d"],
        days=[1, 1, 1, 1, 1, 2, 2, 2, 2, 2],
    )


def test_card_precision_at_k_leaves_out_cards_caught_on_earlier_days() -> None:
    # Day 1: top 2 are a (fraud) and b: 1/2, a is caught. Day 2 without a: d (fraud), b: 1/2.
    # Were a kept on day 2, the top 2 would be a and d: 2/2, and the mean 0.75.
    assert card_precision_at_k(_two_days_four_cards(), k=2) == pytest.approx(0.5)


def test_card_precision_at_k_ranks_a_card_by_its_highest_score_of_the_day() -> None:
    # Day 1: a (fraud) = 1. Day 2 without a: d, ranked by its legitimate 0.75, had fraud = 1.
    assert card_precision_at_k(_two_days_four_cards(), k=1) == pytest.approx(1.0)


def test_card_precision_at_k_uses_the_cards_available_when_fewer_than_k() -> None:
    # Day 1: a, b, c: 2/3; a and c are caught (c's fraud scored low, but c is in the top 3).
    # Day 2: only d and b are left, fewer than k = 3: 1/2. Mean (2/3 + 1/2) / 2.
    assert card_precision_at_k(_two_days_four_cards(), k=3) == pytest.approx(7 / 12)


def test_card_precision_at_k_does_not_catch_cards_in_the_top_k_without_fraud() -> None:
    # b is in day 1's top 2 without fraud; on day 2 it is the only card and is fraud: 1/1.
    data = _set(y=[1, 0, 1], score=[0.9, 0.8, 0.1], cards=["a", "b", "b"], days=[1, 1, 2])
    assert card_precision_at_k(data, k=2) == pytest.approx((1 / 2 + 1) / 2)


def test_recall_at_review_rate_counts_fraud_and_fraud_amount_in_the_top_share() -> None:
    data = _set(
        y=[1, 0, 1, 0, 0, 0, 0, 0, 0, 1],
        score=[0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05],
        amounts=[10, 500, 30, 1, 1, 1, 1, 1, 1, 60],
    )
    metrics = evaluate(data, review_rates=(0.1, 0.3), fpr_points=(0.0,), k=3)
    assert metrics["recall_at_review_rate"] == {"0.1": pytest.approx(1 / 3), "0.3": 2 / 3}
    # Fraud amount 100 in all: the top 1 holds 10 of it, the top 3 hold 40.
    assert metrics["amount_recall_at_review_rate"] == {"0.1": 0.1, "0.3": 0.4}


def test_recall_at_review_rate_reviews_at_least_one_transaction() -> None:
    y = np.array([1, 0, 0, 1], dtype=np.int8)
    assert recall_at_review_rate(y, np.array([0.9, 0.5, 0.4, 0.3]), 0.001) == 0.5


def test_recall_at_fpr_is_the_best_recall_within_the_rate() -> None:
    # 3 fraud, 5 legitimate. Flagging >= 0.8 catches 2 fraud and no legitimate; flagging
    # >= 0.6 catches all 3 fraud and 1 legitimate (FPR 0.2).
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0], dtype=np.int8)
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    assert recall_at_fpr(y, score, 0.0) == pytest.approx(2 / 3)
    assert recall_at_fpr(y, score, 0.1) == pytest.approx(2 / 3)
    assert recall_at_fpr(y, score, 0.2) == pytest.approx(1.0)


def test_recall_at_fpr_keeps_thresholds_between_tied_scores() -> None:
    # 3 fraud, 10 legitimate, one of each tied at 0.9, 0.8 and 0.7: flagging >= 0.8 gives
    # recall 2/3 at FPR 0.2. roc_curve's default would drop that point as collinear.
    y = np.array([1, 0, 1, 0, 1, 0] + [0] * 7, dtype=np.int8)
    score = np.array([0.9, 0.9, 0.8, 0.8, 0.7, 0.7] + [0.01 * i for i in range(7)])
    assert recall_at_fpr(y, score, 0.2) == pytest.approx(2 / 3)


def test_roc_auc_matches_the_pairwise_definition_with_ties() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.2).astype(np.int8)
    score = np.round(rng.random(300) + 0.3 * y, 1)  # coarse scores: many ties
    data = _set(y.tolist(), score.tolist())
    positives, negatives = score[y == 1][:, None], score[y == 0][None, :]
    pairwise = np.mean(positives > negatives) + 0.5 * np.mean(positives == negatives)
    assert evaluate(data)["roc_auc"] == pytest.approx(pairwise)


def test_evaluate_returns_plain_json_values() -> None:
    data = _set(y=[1, 0, 1, 0], score=[0.9, 0.8, 0.7, 0.1], days=[0, 0, 1, 1])
    metrics = evaluate(data, k=1)
    assert json.loads(json.dumps(metrics)) == metrics
    assert metrics["transactions"] == 4
    assert metrics["frauds"] == 2
    assert metrics["fraud_rate"] == 0.5
    # Precision 1 at recall 1/2, 2/3 at recall 1.
    assert metrics["average_precision"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    recall = metrics["recall_at_fpr"]
    assert isinstance(recall, dict)
    assert set(recall) == {"0.001", "0.005", "0.01", "0.05"}
    assert metrics["card_precision_at_k_k"] == 1


@pytest.mark.parametrize(("y", "counts"), [([0, 0, 0], "0 fraud, 3"), ([1, 1], "2 fraud, 0")])
def test_evaluate_refuses_a_window_with_one_class(y: list[int], counts: str) -> None:
    data = _set(y, [0.5] * len(y))
    with pytest.raises(ValueError, match=rf"only one class \({counts} legitimate"):
        evaluate(data)


def test_evaluate_refuses_out_of_range_arguments() -> None:
    data = _set(y=[1, 0], score=[0.9, 0.1])
    with pytest.raises(ValueError, match="k = 0"):
        evaluate(data, k=0)
    with pytest.raises(ValueError, match="review_rates"):
        evaluate(data, review_rates=(0.0,))


def test_evaluation_set_refuses_arrays_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="score 1"):
        EvaluationSet(
            y_true=np.array([1, 0], dtype=np.int8),
            score=np.array([0.5]),
            card_id=np.array(["a", "b"], dtype=object),
            day=np.array([0, 0], dtype=np.int64),
            amount_usd=np.array([1.0, 1.0]),
        )


def test_card_precision_at_100_on_a_hand_computed_case() -> None:
    """Day 0: 150 cards, the 100 top-scored hold 30 defrauded cards (and 10 more defrauded
    cards rank below them); day 1: the same 150 cards, where 20 of day 0's caught cards and
    5 new ones are defrauded and rank first. Day 0: 30 / 100. Day 1: the 30 caught cards
    leave the ranking, so the queue is 100 of the other 120 cards, of which 5 defrauded."""
    cards = np.array([f"c{i:03d}" for i in range(150)], dtype=object)
    score0 = np.linspace(1.0, 0.01, 150)
    fraud0 = np.zeros(150, dtype=np.int8)
    fraud0[:30] = 1  # in the top 100
    fraud0[120:130] = 1  # below it: not caught
    score1 = score0.copy()
    fraud1 = np.zeros(150, dtype=np.int8)
    fraud1[:20] = 1  # caught on day 0: out of day 1's queue
    fraud1[30:35] = 1  # new, and now the top of the queue
    data = EvaluationSet(
        y_true=np.concatenate([fraud0, fraud1]),
        score=np.concatenate([score0, score1]),
        card_id=np.concatenate([cards, cards]),
        day=np.repeat(np.array([0, 1], dtype=np.int64), 150),
        amount_usd=np.ones(300),
    )
    assert card_precision_at_k(data, 100) == pytest.approx((30 / 100 + 5 / 100) / 2)
