from __future__ import annotations

import redis

from feature_store.embedded import start_embedded_redis


def test_start_embedded_redis_serves_a_warm_private_redis() -> None:
    embedded = start_embedded_redis(transactions=3_000)
    try:
        client = redis.Redis.from_url(embedded.url)
        assert client.ping()
        assert embedded.report.entities["card"] > 100
        cards = list(client.scan_iter(match="rs:v1:{card:*}:c", count=1_000))
        assert len(cards) == embedded.report.entities["card"]
        client.close()
    finally:
        embedded.close()
    assert embedded.server.process is None
