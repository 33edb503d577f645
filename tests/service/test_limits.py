"""Body limits over real HTTP (`service/limits.py`): score and feedback keep `max_body_bytes`;
policy publish, list batches and label batches have limits of their own. Each limit is tried
at exactly its size (taken) and one byte over (413 naming the setting), with and without a
`Content-Length`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from feature_store.redis_server import RedisServer
from riskscore.cli import main
from service.settings import DEFAULT_POLICY_FILE
from tests.service.conftest import KEYS, RunningService, auth, settings_for, transaction

pytestmark = pytest.mark.redis

BODY = 16_384  # the default `max_body_bytes`, kept for score and feedback
POLICY_BODY = 64 * 1024  # smaller than the defaults, so that the tests send little
LIST_BODY = 48 * 1024
LABELS_BODY = 32 * 1024


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with RedisServer() as server:
        settings = settings_for(
            server.url,
            max_policy_body_bytes=POLICY_BODY,
            max_list_body_bytes=LIST_BODY,
            max_labels_body_bytes=LABELS_BODY,
        )
        running = RunningService.start(settings)
        try:
            yield running
        finally:
            running.stop()


def _exactly(body: Any, size: int) -> bytes:
    """`body` as JSON padded with trailing spaces (still the same JSON) to `size` bytes."""
    encoded = orjson.dumps(body)
    assert len(encoded) <= size, (len(encoded), size)
    return encoded + b" " * (size - len(encoded))


def _post(service: RunningService, path: str, content: bytes, chunked: bool) -> httpx.Response:
    scope = "admin" if "/admin/" in path else path.rsplit("/", 1)[-1]
    headers = {**auth(scope), "content-type": "application/json"}
    if not chunked:
        return httpx.post(f"{service.url}{path}", content=content, headers=headers, timeout=30)
    half = len(content) // 2  # no Content-Length: the service counts what arrives
    pieces = iter([content[:half], content[half:]])
    return httpx.post(f"{service.url}{path}", content=pieces, headers=headers, timeout=30)


def _both_sides(
    service: RunningService, path: str, body: Any, size: int, setting: str
) -> list[httpx.Response]:
    """The replies at exactly `size` bytes, sent both ways; asserts 413 at one byte more."""
    taken = []
    for chunked in (False, True):
        taken.append(_post(service, path, _exactly(body, size), chunked))
        over = _post(service, path, _exactly(body, size) + b" ", chunked)
        assert over.status_code == 413, over.text
        assert over.headers["content-type"] == "application/problem+json"
        problem = over.json()
        assert problem["limit"] == setting and problem["max_bytes"] == size
        assert setting in problem["detail"] and str(size) in problem["detail"]
    return taken


def test_score_keeps_the_general_body_limit(service: RunningService, namespace: str) -> None:
    body = transaction(namespace, 1)
    first, second = _both_sides(service, "/v1/score", body, BODY, "RISKSCORE_MAX_BODY_BYTES")
    assert first.status_code == 200, first.text
    assert second.status_code == 200 and second.json()["replayed"] is True


def test_feedback_keeps_the_general_body_limit(service: RunningService, namespace: str) -> None:
    body = {"transaction_id": f"{namespace}nowhere", "label": "chargeback"}
    body["reported_at"] = "2026-01-01T00:00:00Z"
    for reply in _both_sides(service, "/v1/feedback", body, BODY, "RISKSCORE_MAX_BODY_BYTES"):
        assert reply.status_code == 404, reply.text  # read and answered: no such transaction


def _large_policy(size: int) -> str:
    """The default policy with a comment that makes it about `size` bytes long."""
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    filler = "# " + "x" * 76 + "\n"
    return text + filler * ((size - len(text)) // len(filler))


def test_policy_publish_takes_a_policy_larger_than_the_general_limit(
    service: RunningService,
) -> None:
    text = _large_policy(POLICY_BODY - 1024)
    assert len(text) > 2 * BODY
    body = {"text": text, "source": "large.yaml"}
    setting = "RISKSCORE_MAX_POLICY_BODY_BYTES"
    for reply in _both_sides(service, "/v1/admin/policy/publish", body, POLICY_BODY, setting):
        assert reply.status_code == 200, reply.text
    validated = _post(service, "/v1/admin/policy/validate", orjson.dumps(body), chunked=False)
    assert validated.status_code == 200 and validated.json()["valid"] is True


def test_policy_publish_command_sends_a_large_policy(
    service: RunningService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "large.yaml"
    path.write_text(_large_policy(POLICY_BODY // 2) + "# another\n", encoding="utf-8")
    connection = ["--url", service.url, "--key", KEYS["admin"]]
    assert main(["policy", "publish", str(path), *connection]) == 0
    assert capsys.readouterr().out.startswith("published ")
    path.write_text(_large_policy(2 * POLICY_BODY), encoding="utf-8")
    assert main(["policy", "publish", str(path), *connection]) != 0
    assert "RISKSCORE_MAX_POLICY_BODY_BYTES" in capsys.readouterr().err


def test_list_batches_have_their_own_body_limit(service: RunningService, namespace: str) -> None:
    entries = [f"{namespace}card{i:05d}" for i in range(LIST_BODY // 40)]
    body = {"entries": entries, "note": "limits test"}
    assert len(orjson.dumps(body)) > BODY
    setting = "RISKSCORE_MAX_LIST_BODY_BYTES"
    for path in ("/v1/admin/lists/blocked_cards", "/v1/admin/lists/blocked_cards/check"):
        for reply in _both_sides(service, path, body, LIST_BODY, setting):
            assert reply.status_code == 200, reply.text


def test_label_batches_have_their_own_body_limit(service: RunningService, namespace: str) -> None:
    row = {"transaction_id": "", "label": "chargeback", "reported_at": "2026-01-01T00:00:00Z"}
    rows = [{**row, "transaction_id": f"{namespace}tx{i}"} for i in range(LABELS_BODY // 110)]
    body = {"rows": rows}
    assert len(orjson.dumps(body)) > BODY
    setting = "RISKSCORE_MAX_LABELS_BODY_BYTES"
    for reply in _both_sides(service, "/v1/admin/labels", body, LABELS_BODY, setting):
        assert reply.status_code == 200, reply.text
        assert len(reply.json()["refused"]) == len(rows)  # read whole: none is recorded


def test_admin_limits_report_every_body_limit(service: RunningService) -> None:
    reply = httpx.get(f"{service.url}/v1/admin/limits", headers=auth("admin"))
    assert reply.status_code == 200
    assert reply.json() == {
        "max_body_bytes": BODY,
        "max_policy_body_bytes": POLICY_BODY,
        "max_list_body_bytes": LIST_BODY,
        "max_labels_body_bytes": LABELS_BODY,
        "max_list_entries_per_request": 10_000,
        "max_labels_per_request": 1_000,
    }
