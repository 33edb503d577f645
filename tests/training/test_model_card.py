from __future__ import annotations

from pathlib import Path

import numpy as np

from training.metrics import EvaluationSet, evaluate
from training.model_card import PR_PNG, ROC_PNG, SCORES_PNG, write_model_card


def _evaluation() -> EvaluationSet:
    rng = np.random.default_rng(4)
    y = (rng.random(2000) < 0.05).astype(np.int8)
    score = np.clip(rng.beta(1, 20, 2000) + 0.4 * y * rng.random(2000), 0, 1)
    return EvaluationSet(
        y_true=y,
        score=score,
        card_id=np.array([f"c{i % 300}" for i in range(2000)], dtype=object),
        day=np.arange(2000, dtype=np.int64) // 200,
        amount_usd=rng.lognormal(3, 1, 2000),
    )


def test_write_model_card_writes_card_and_plots_deterministically(tmp_path: Path) -> None:
    evaluation = _evaluation()
    metrics = evaluate(evaluation)
    manifest = {
        "model_version": "rs-test-1",
        "metrics": {"test": metrics},
        "suggested_score_bands": {"review_at": 0.1, "challenge_at": 0.3, "decline_at": 0.6},
        "features": ["amount_usd", "card_txn_count_1h"],
    }
    card = write_model_card(tmp_path, manifest, evaluation)
    text = card.read_text()
    assert text.startswith("# Model card: rs-test-1")
    for image in (ROC_PNG, PR_PNG, SCORES_PNG):
        assert f"]({image})" in text
        assert (tmp_path / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"| ROC AUC | {metrics['roc_auc']:.4f} |" in text
    assert "| decline |" in text
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    write_model_card(tmp_path, manifest, evaluation)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first
