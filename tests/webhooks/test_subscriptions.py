"""What a subscription may point at and ask for (422 naming the field otherwise)."""

from __future__ import annotations

import pytest

from webhooks.errors import SubscriptionError
from webhooks.subscriptions import SubscriptionSpec, check_kinds, check_outcomes, check_url


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL", "ftp://example.com/x",
     "javascript:alert(1)", "example.com/hooks", "https://", "https://user:pw@example.com/"],
)  # fmt: skip
def test_check_url_refuses_anything_but_http_and_https_with_a_host(url: str) -> None:
    with pytest.raises(SubscriptionError) as refused:
        check_url(url)
    assert refused.value.field == "url"


def test_check_url_takes_http_and_https() -> None:
    for url in ("https://hooks.example.com/riskscore", "http://10.0.0.5:8080/in"):
        assert check_url(url) == url


def test_kinds_and_outcomes_are_the_known_ones() -> None:
    assert check_kinds(["label.recorded", "decision.created", "label.recorded"]) == [
        "decision.created",
        "label.recorded",
    ]
    assert check_outcomes(["review", "decline"]) == ["decline", "review"]
    assert check_outcomes(None) is None
    for check, field, bad in (
        (check_kinds, "kinds", ["decision.updated"]),
        (check_kinds, "kinds", []),
        (check_outcomes, "outcomes", ["deny"]),
    ):
        with pytest.raises(SubscriptionError) as refused:
            check(bad)
        assert refused.value.field == field


def test_a_spec_is_checked_whole() -> None:
    spec = SubscriptionSpec("https://example.com/h", ["case.opened", "case.resolved"])
    assert spec.check().kinds == ["case.opened", "case.resolved"]
    with pytest.raises(SubscriptionError):
        SubscriptionSpec("ssh://example.com", ["case.opened"]).check()
