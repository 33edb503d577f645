"""The decision search over HTTP: the record's filters as a form, refusals naming the field."""

from __future__ import annotations

import httpx
import pytest

from tests.console.conftest import console_for, scored

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def test_the_search_filters_the_record(http: httpx.Client, namespace: str) -> None:
    first = scored(http, namespace, 1)
    scored(http, namespace, 2, merchant={"id": f"{namespace}other"})
    console = console_for(http, "analyst")
    mine = {"card_id": f"{namespace}card", "from": "1d"}
    both = console.get("/console/decisions", params=mine).text
    assert f"{namespace}tx1" in both and f"{namespace}tx2" in both
    one = console.get("/console/decisions", params={**mine, "merchant_id": f"{namespace}merchant"})
    assert f"{namespace}tx1" in one.text and f"{namespace}tx2" not in one.text
    other = {**mine, "decision": "decline" if first["decision"] != "decline" else "approve"}
    assert f"{namespace}tx1" not in console.get("/console/decisions", params=other).text
    labelled = console.get("/console/decisions", params={**mine, "labelled": "yes"}).text
    assert "No decision matches these filters." in labelled


@pytest.mark.parametrize(
    ("query", "field"),
    [({"decision": "maybe"}, "decision"), ({"from": "yesterday"}, "from"),
     ({"labelled": "perhaps"}, "labelled"), ({"cursor": "not-a-cursor"}, "cursor")],
)  # fmt: skip
def test_a_bad_filter_is_a_422_page_naming_it(
    http: httpx.Client, query: dict[str, str], field: str
) -> None:
    reply = console_for(http, "analyst").get("/console/decisions", params=query)
    assert reply.status_code == 422
    assert f'role="alert">{field}' in reply.text
