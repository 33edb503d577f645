from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from training.config import DEFAULT_PARAMETERS, TrainingOptions, Windows, option_problems
from training.config_file import ConfigError, load_config, parse_config

GOOD = """\
split:
  validation_fraction: 0.1
windows:
  train_start: 2026-01-01
  train_end: 2026-02-10
  test_start: 2026-02-15
label_delay_days: 20
parameters:
  max_depth: 4
  learning_rate: 5e-2
tuning:
  enabled: true
  trials: 12
  minutes: 2.5
  seed: 11
"""


def test_parse_config_reads_every_section_and_keeps_defaults_elsewhere() -> None:
    options = parse_config(GOOD, "train.yaml")
    assert options.validation_fraction == 0.1
    assert options.windows == Windows(date(2026, 1, 1), date(2026, 2, 10), date(2026, 2, 15))
    assert options.label_delay_seconds == 20 * 86_400
    assert options.resolved_parameters() == {
        **DEFAULT_PARAMETERS,
        "max_depth": 4,
        "learning_rate": 0.05,
    }
    assert (options.tuning.enabled, options.tuning.trials, options.tuning.seed) == (True, 12, 11)
    assert options.tuning.minutes == 2.5
    assert options.gap_days == TrainingOptions().gap_days


def test_an_empty_config_file_is_the_defaults() -> None:
    assert parse_config("", "empty.yaml") == TrainingOptions()


def test_load_config_records_the_file_and_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(GOOD)
    options = load_config(path)
    assert options.source is not None
    assert options.source.path == str(path)
    assert len(options.source.sha256) == 64


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "train.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_config_errors_name_the_file_line_column_and_field() -> None:
    text = """\
parameters:
  max_depth: six
  learning_rat: 0.1
  subsample: 1.5
tuning:
  trials: 0
  enabled: maybe
windows:
  train_end: 2026-02-10
  test_start: tomorrow
"""
    assert _problems(text) == [
        "train.yaml:2:14: field 'parameters.max_depth': must be a whole number in [1, 16], "
        "not 'six'",
        "train.yaml:3:3: field 'parameters.learning_rat': unknown field in parameters "
        "(did you mean 'learning_rate'?); known: "
        + ", ".join(
            [
                "n_estimators",
                "max_depth",
                "learning_rate",
                "subsample",
                "colsample_bytree",
                "colsample_bylevel",
                "min_child_weight",
                "gamma",
                "reg_lambda",
                "reg_alpha",
                "max_delta_step",
                "scale_pos_weight",
                "max_bin",
                "early_stopping_rounds",
                "random_state",
                "n_jobs",
            ]
        ),
        "train.yaml:4:14: field 'parameters.subsample': must be a number in (0, 1], not 1.5",
        "train.yaml:6:11: field 'tuning.trials': must be a whole number >= 1, not 0",
        "train.yaml:7:12: field 'tuning.enabled': must be true or false, not 'maybe'",
        "train.yaml:10:15: field 'windows.test_start': must be a date (YYYY-MM-DD), not 'tomorrow'",
    ]


def test_config_refuses_overlapping_windows_at_the_later_date() -> None:
    text = "windows:\n  train_end: 2026-02-10\n  test_start: 2026-02-10\n"
    assert _problems(text) == [
        "train.yaml:3:3: field 'windows.test_start': is 2026-02-10: it must be after "
        "train_end (2026-02-10): the training and test windows would overlap"
    ]


def test_config_refuses_a_test_share_beside_windows_and_a_missing_end() -> None:
    text = "split:\n  gap_days: 3\nwindows:\n  test_start: 2026-02-10\n"
    assert _problems(text) == [
        "train.yaml:2:3: field 'split.gap_days': leave it out: the windows set the test "
        "window and the gap",
        "train.yaml:3:1: field 'windows.train_end': is needed when any window date is given",
    ]


def test_config_refuses_invalid_yaml_and_a_field_twice() -> None:
    assert _problems("parameters: [1, 2\n")[0].startswith("train.yaml:2:1: not valid YAML")
    assert _problems("label_delay_days: 3\nlabel_delay_days: 4\n") == [
        "train.yaml:2:1: field 'label_delay_days': appears twice in the config"
    ]


def test_config_refuses_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent.yaml:1:1: cannot read it"):
        load_config(tmp_path / "absent.yaml")


def test_option_problems_checks_the_same_ranges_as_the_file() -> None:
    options = TrainingOptions(test_fraction=1.0, parameters={"max_depth": 0})
    assert option_problems(options) == [
        ("test_fraction", "must be a number in (0, 1), not 1.0"),
        ("parameters.max_depth", "must be a whole number in [1, 16], not 0"),
    ]


def test_the_config_example_in_the_docs_is_valid() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "training.md").read_text()
    example = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    options = parse_config(example, "docs/training.md")
    assert options.windows.given() and options.resolved_parameters()["max_depth"] == 5
