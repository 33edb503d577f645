"""The features file is refused with every problem placed at file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_store.spec import DEFAULT_PATH, FeatureFileError, parse_feature_file

HEAD = """description: test
label_maturity_days: 7
entities:
  card: card_id
windows:
  1h: {bucket_seconds: 300, buckets: 12}
features:
"""


def _problems(features: str, head: str = HEAD) -> tuple[str, ...]:
    with pytest.raises(FeatureFileError) as caught:
        parse_feature_file(head + features, "f.yaml")
    return caught.value.problems


def test_a_valid_file_reads_its_features_with_their_lines() -> None:
    text = HEAD + "  - {name: card_txn_count_1h, kind: count, entity: card, window: 1h}\n"
    spec = parse_feature_file(text, "f.yaml")
    assert [(f.name, f.kind, f.line, f.model) for f in spec.features] == [
        ("card_txn_count_1h", "count", 8, True)
    ]


def test_an_unknown_window_is_placed_at_its_value() -> None:
    problems = _problems("  - {name: card_txn_count_2h, kind: count, entity: card, window: 2h}\n")
    assert len(problems) == 1
    assert problems[0].startswith("f.yaml:8:66: feature card_txn_count_2h: unknown window '2h'")


def test_a_misspelt_kind_is_suggested() -> None:
    (problem,) = _problems("  - {name: card_n, kind: cuont, entity: card, window: 1h}\n")
    assert problem.startswith("f.yaml:8:")
    assert "unknown kind 'cuont' (did you mean 'count'?)" in problem


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(
        "  - {name: a, kind: count, entity: shop, window: 1h}\n"
        "  - {name: b, kind: matured_fraud_rate, entity: card, days: 400}\n"
        "  - {name: c, kind: distinct, entity: card, attribute: pan, window: 1h}\n"
        "  - {name: e, kind: sum, entity: card}\n"
        "  - {name: d, kind: amount}\n"
        "  - {name: d, kind: amount}\n"
        "  - {name: E, kind: amount, colour: red}\n"
    )
    lines = [p.split(":")[1] for p in problems]
    assert lines == ["8", "9", "10", "11", "13", "14", "14"], problems
    assert "unknown entity 'shop'" in problems[0]
    assert "days is 400" in problems[1]
    assert "attribute 'pan' cannot be kept" in problems[2]
    assert "needs 'window'" in problems[3]
    assert "declared twice" in problems[4]


def test_missing_sections_and_bad_yaml_are_refused() -> None:
    with pytest.raises(FeatureFileError, match=r"f.yaml:1:1: the features file has no 'windows'"):
        parse_feature_file("label_maturity_days: 7\nentities: {}\nfeatures: []\n", "f.yaml")
    with pytest.raises(FeatureFileError, match=r"f.yaml:3:1: not valid YAML: expected the node"):
        parse_feature_file("features:\n  - {name: [\n", "f.yaml")


def test_a_maturity_below_one_day_is_refused() -> None:
    head = HEAD.replace("label_maturity_days: 7", "label_maturity_days: 0")
    (problem,) = _problems("  - {name: amount_usd, kind: amount}\n", head)
    assert problem.startswith("f.yaml:2:22: label_maturity_days must be at least 1")


def test_the_default_file_is_valid(tmp_path: Path) -> None:
    spec = parse_feature_file(DEFAULT_PATH.read_text(), str(DEFAULT_PATH))
    assert spec.features
    # Wording and layout are not meaning: the version hashes `meaning`, which ignores them.
    reworded = DEFAULT_PATH.read_text().replace("description: Default", "description: Other")
    assert parse_feature_file(reworded, "x").meaning() == spec.meaning()
