"""The whitelist: every construct outside the documented language is refused with a reason."""

from __future__ import annotations

import pytest

from policy.language.syntax import MAX_DEPTH, parse

REFUSED = [
    ("card.__class__", "names starting with _"),
    ('__import__("os").system("true")', "only the documented functions"),
    ('__import__("os")', "names starting with _"),
    ("().__class__.__bases__", "names starting with _"),
    ('"abc".upper() == "ABC"', "only the documented functions"),
    ("(1).real > 0", "dots only name fields"),
    ("9**9**9 > 1", "operator ** is not allowed"),
    ("amount_usd // 2 > 1", "operator // is not allowed"),
    ("1" * 40 + " > 1", "number is larger than"),
    ("'" + "a" * 300 + "' == card.id", "longer than 200 characters"),
    ("lambda: 1", "lambda is not allowed"),
    ("[x for x in (1, 2)] == 1", "comprehensions are not allowed"),
    ('f"{amount_usd}" == "1"', "f-strings are not allowed"),
    ("(x := 1) == 1", "assignment (:=) is not allowed"),
    ('card["id"] == "x"', "subscripts"),
    ("amount_usd > 1 if degraded else amount_usd > 2", "write two rules"),
    ("{'a': 1} == 1", "dictionaries are not allowed"),
    ("card.id is None", "`is` is not allowed"),
    ("card.id == None", "use missing(x)"),
    ("sqrt(amount_usd) > 3", "unknown function sqrt()"),
    ("mins(amount_usd, 1) > 3", "did you mean min()?"),
    ("max(amount_usd, key=1) > 3", "takes no named arguments"),
    ("card.bin in {card.id, '1'}", "only literal values"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_parse_refuses_hostile_and_undocumented_constructs(text: str, reason: str) -> None:
    parsed, problems = parse(text)
    assert parsed is None
    assert any(reason in problem.message for problem in problems), problems


def test_parse_refuses_deep_nesting() -> None:
    text = "(1 + " * (MAX_DEPTH + 5) + "amount_usd" + ")" * (MAX_DEPTH + 5) + " > 1"
    parsed, problems = parse(text)
    assert parsed is None and "levels deep" in problems[0].message
    assert parse("(((((amount_usd))))) > 1")[1] == []  # parentheses alone add no depth
    deep = "not " * (MAX_DEPTH + 1) + "degraded"
    assert "levels deep" in parse(deep)[1][0].message


def test_parse_refuses_a_parser_bomb_without_crashing() -> None:
    parsed, problems = parse("(" * 1900 + ")" * 1900)
    assert parsed is None and problems


def test_parse_refuses_overlong_and_empty_text() -> None:
    assert "characters long" in parse("amount_usd > 1 or " * 200 + "degraded")[1][0].message
    assert "empty" in parse("  ")[1][0].message


def test_parse_reports_the_line_and_column_of_a_syntax_error() -> None:
    _, problems = parse("amount_usd > 1 and\n  card.bin == )")
    assert (problems[0].line, problems[0].column) == (1, len("  card.bin == "))


def test_parse_accepts_the_documented_language() -> None:
    text = (
        'not missing(card.bin) and card.bin in list("risky") and -amount_usd % 3 < 2 '
        'and 0 < abs(min(score, 1)) <= 1 and lower(channel) in ["ecom", "app"] or degraded'
    )
    parsed, problems = parse(text)
    assert problems == [] and parsed is not None
