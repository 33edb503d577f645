"""The decision page's reasons: each model reason with the features the record kept behind it
(their values and contributions), the catalogue's features for records from before that."""

from __future__ import annotations

from model.reasons import feature_reasons
from service.console.explanation import explain


def test_a_model_reason_shows_the_contributions_the_record_kept() -> None:
    body = {
        "features": {"amount_usd": 2808.0, "card_txn_count_1h": 0.0},
        "attributions": {"amount_usd": 0.9, "card_txn_count_1h": 0.2},
        "reasons": [
            {
                "code": "AMOUNT_HIGH",
                "source": "model",
                "message": "The amount is high.",
                "weight": 0.334,
                "contributions": {"amount_usd": 0.334},
            },
            {"code": "BLOCKED", "source": "rule", "message": "Listed.", "weight": None},
        ],
    }
    model, rule = explain(body)
    assert [(f.name, f.value, f.attribution) for f in model.features] == [
        ("amount_usd", 2808.0, 0.334)
    ]
    assert rule.features == () and rule.code == "BLOCKED"


def test_a_reason_without_contributions_shows_the_catalogues_features() -> None:
    named = {f for (f, _), codes in feature_reasons().items() if "AMOUNT_HIGH" in codes}
    assert "amount_usd" in named
    features = {name: 1.0 for name in named} | {"card_txn_count_1h": 3.0}
    attributions = {name: 0.1 * i for i, name in enumerate(features, start=1)}
    body = {
        "features": features,
        "attributions": attributions,
        "reasons": [{"code": "AMOUNT_HIGH", "source": "model", "message": "m", "weight": 1.0}],
    }
    (view,) = explain(body)
    assert {f.name for f in view.features} == named  # the velocity feature is not behind it
    shown = [abs(f.attribution or 0.0) for f in view.features]
    assert shown == sorted(shown, reverse=True)
