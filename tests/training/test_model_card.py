from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from training.metrics import EvaluationSet, evaluate
from training.model_card import PR_PNG, ROC_PNG, SCORES_PNG, render_card, write_model_card

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def evaluation() -> EvaluationSet:
    rng = np.random.default_rng(4)
    n = 2000
    y = (rng.random(n) < 0.05).astype(np.int8)
    return EvaluationSet(
        y_true=y,
        score=np.clip(rng.beta(1, 20, n) + 0.4 * y * rng.random(n), 0, 1),
        card_id=np.array([f"c{i % 300}" for i in range(n)], dtype=object),
        day=np.arange(n, dtype=np.int64) // 200,
        amount_usd=rng.lognormal(3, 1, n),
    )


@pytest.fixture
def manifest(evaluation: EvaluationSet) -> dict[str, Any]:
    """Shaped as the pipeline writes it: `metrics` holds one dict per window."""
    window = {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z", "rows": 10}
    return {
        "model_version": "rs-test-1",
        "feature_set_version": "fs-test",
        "created_at": "2026-02-01T00:00:00Z",
        "training_data": {"fingerprint": "ab12", "rows": 30, "frauds": 3, "start": "s"},
        "split": {name: {**window, "frauds": 1} for name in ("train", "validation", "test")},
        "parameters": {"max_depth": 6, "learning_rate": 0.1},
        "best_iteration": 42,
        "calibration": {"method": "platt", "slope": 1.25, "intercept": -0.5},
        "metrics": {"validation": {}, "test": evaluate(evaluation)},
        "suggested_score_bands": {"review_at": 0.1, "challenge_at": 0.3, "decline_at": 0.6},
        "features": ["amount_usd", "card_txn_count_1h"],
        "parity": {"max_abs_diff": 4.8e-7, "rows": 400, "tolerance": 1e-5},
        "parity_sample": {"rows": 261, "constructed": 10, "leaves": 656, "leaves_reached": 656},
    }


def test_write_model_card_writes_the_card_and_three_png_plots(
    tmp_path: Path, manifest: dict[str, Any], evaluation: EvaluationSet
) -> None:
    card = write_model_card(tmp_path / "artifact", manifest, evaluation)
    assert card == tmp_path / "artifact" / "MODEL_CARD.md"
    text = card.read_text()
    assert text.startswith("# Model card: rs-test-1\n")
    for image in (ROC_PNG, PR_PNG, SCORES_PNG):
        assert f"]({image})" in text
        png = (card.parent / image).read_bytes()
        assert png.startswith(PNG_MAGIC)
        assert len(png) > 1000


def test_model_card_shows_every_test_metric(
    manifest: dict[str, Any], evaluation: EvaluationSet
) -> None:
    text = render_card(manifest, evaluation)
    metrics = manifest["metrics"]["test"]
    assert f"| ROC AUC | {metrics['roc_auc']:.4f} |" in text
    assert f"| Average precision | {metrics['average_precision']:.4f} |" in text
    assert f"| Card precision@100 | {metrics['card_precision_at_k']:.4f} |" in text
    for key, label in (
        ("recall_at_fpr", "Recall at FPR"),
        ("recall_at_review_rate", "Recall at review rate"),
        ("amount_recall_at_review_rate", "Amount recall at review rate"),
    ):
        for point, value in metrics[key].items():
            assert f"| {label} {float(point) * 100:g}% | {value:.4f} |" in text


def test_model_card_takes_one_windows_metrics_or_computes_them(
    manifest: dict[str, Any], evaluation: EvaluationSet
) -> None:
    nested = render_card(manifest, evaluation)
    assert render_card({**manifest, "metrics": manifest["metrics"]["test"]}, evaluation) == nested
    assert render_card({**manifest, "metrics": None}, evaluation) == nested


def test_model_card_reports_share_and_fraud_recall_per_score_band() -> None:
    # 10 transactions, 4 fraud; bands review 0.1, challenge 0.5, decline 0.9.
    data = EvaluationSet(
        y_true=np.array([0, 0, 0, 0, 1, 0, 1, 0, 1, 1], dtype=np.int8),
        score=np.array([0.01, 0.02, 0.05, 0.09, 0.09, 0.1, 0.3, 0.5, 0.7, 0.95]),
        card_id=np.array([f"c{i}" for i in range(10)], dtype=object),
        day=np.zeros(10, dtype=np.int64),
        amount_usd=np.ones(10),
    )
    bands = {"review_at": 0.1, "challenge_at": 0.5, "decline_at": 0.9}
    text = render_card({"suggested_score_bands": bands}, data)
    assert "| approve | [0, 0.1) | 0.5000 | 1 | 0.2500 |" in text
    assert "| review | [0.1, 0.5) | 0.2000 | 1 | 0.2500 |" in text
    assert "| challenge | [0.5, 0.9) | 0.2000 | 1 | 0.2500 |" in text
    assert "| decline | [0.9, 1] | 0.1000 | 1 | 0.2500 |" in text


def test_model_card_lists_training_details_and_features(
    manifest: dict[str, Any], evaluation: EvaluationSet
) -> None:
    text = render_card(manifest, evaluation)
    assert "| validation | 2026-01-01T00:00:00Z | 2026-02-01T00:00:00Z | 10 | 1 |" in text
    assert "Platt scaling" in text
    assert "within 4.8e-07" in text
    assert "best iteration 42" in text
    assert "`parity_sample.npz` holds 261 feature rows" in text
    assert "10 constructed" in text
    assert "They reach 656 of the 656 leaves" in text
    assert "| `max_depth` | 6 |" in text
    assert "1. `amount_usd`\n2. `card_txn_count_1h`\n" in text
    assert "Not for credit decisions" in text


def test_model_card_survives_a_manifest_with_nothing_in_it(evaluation: EvaluationSet) -> None:
    text = render_card({}, evaluation)
    assert text.startswith("# Model card: ?\n")
    assert "Suggested score bands\n\nNone recorded." in text
    assert "Parity sample\n\nNone recorded." in text


def test_write_model_card_twice_gives_identical_bytes(
    tmp_path: Path, manifest: dict[str, Any], evaluation: EvaluationSet
) -> None:
    write_model_card(tmp_path / "a", manifest, evaluation)
    write_model_card(tmp_path / "b", manifest, evaluation)
    first = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    assert len(first) == 4
    assert {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()} == first
