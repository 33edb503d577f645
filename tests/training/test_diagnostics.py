from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from training.card_diagnostics import CALIBRATION_PNG, IMPORTANCE_PNG
from training.diagnostics import diagnose, reliability, typology_recall
from training.metrics import EvaluationSet
from training.model_card import write_model_card

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _window(score: list[float], fraud: list[int]) -> EvaluationSet:
    n = len(score)
    return EvaluationSet(
        y_true=np.array(fraud, dtype=np.int8),
        score=np.array(score, dtype=np.float64),
        card_id=np.array([f"c{i}" for i in range(n)], dtype=object),
        day=np.zeros(n, dtype=np.int64),
        amount_usd=np.ones(n),
    )


def test_typology_recall_counts_each_typology_s_fraud_at_the_review_band() -> None:
    data = _window([0.9, 0.05, 0.5, 0.2, 0.01, 0.3], [1, 1, 1, 1, 0, 0])
    typology = np.array(["ato", "ato", "ato", "testing", "none", "none"], dtype=object)
    found = typology_recall(data, 0.1, typology)
    assert [(t.typology, t.frauds, t.recall_at_review_band) for t in found] == [
        ("ato", 3, pytest.approx(2 / 3)),
        ("testing", 1, 1.0),
    ]
    # The top 1 % of 6 rows is one row, the 0.9: one of ato's three.
    assert found[0].recall_at_review_rate == pytest.approx(1 / 3)
    assert typology_recall(data, 0.1, None) == ()


def test_reliability_bins_hold_mean_score_and_fraud_rate() -> None:
    y = np.array([0, 0, 1, 0, 1, 1], dtype=np.int8)
    score = np.array([0.0005, 0.0005, 0.02, 0.02, 0.96, 1.0])
    bins = reliability(y, score)
    assert [(b.low, b.high, b.rows, b.fraud_rate) for b in bins] == [
        (0.0, 0.001, 2, 0.0),
        (0.01, 0.03, 2, 0.5),
        (0.95, 1.0, 2, 1.0),
    ]
    assert bins[-1].mean_score == pytest.approx(0.98)


def test_diagnose_and_the_card_show_importance_and_calibration(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    features = rng.normal(size=(3000, 4)).astype(np.float32)
    labels = (features[:, 1] + 0.3 * rng.normal(size=3000) > 1.5).astype(np.int8)
    classifier = xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, random_state=1)
    classifier.fit(features, labels)
    score = classifier.predict_proba(features)[:, 1].astype(np.float64)
    data = EvaluationSet(
        y_true=labels,
        score=score,
        card_id=np.array([f"c{i % 50}" for i in range(3000)], dtype=object),
        day=np.arange(3000, dtype=np.int64) // 300,
        amount_usd=np.ones(3000),
    )
    names = ("noise_a", "signal", "noise_b", "noise_c")
    diagnostics = diagnose(classifier, names, features, data, 0.1)
    importance = diagnostics.importance
    assert importance.gain_share.sum() == pytest.approx(1.0)
    assert int(np.argmax(importance.gain_share)) == 1
    assert int(np.argmax(importance.mean_abs_attribution)) == 1
    card = write_model_card(tmp_path, {}, data, diagnostics).read_text()
    assert "| 1 | `signal` |" in card
    assert "Expected calibration error" in card
    assert "no `fraud_scenario`" in card
    for image in (CALIBRATION_PNG, IMPORTANCE_PNG):
        assert f"]({image})" in card
        assert (tmp_path / image).read_bytes().startswith(PNG_MAGIC)
