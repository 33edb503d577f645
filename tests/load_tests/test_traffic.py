from __future__ import annotations

import itertools
from collections import Counter

import orjson
import pytest
from pydantic import ValidationError

from history.card_numbers import looks_like_card_number
from load_tests.traffic import Pool, Traffic, TrafficError, TrafficMix
from service.edge import parse_json
from service.problems import RequestError
from service.schemas import ScoreRequest


def ticking(step: float = 0.01, start: float = 1_790_000_000.0):  # type: ignore[no-untyped-def]
    """A clock that advances `step` seconds at each reading."""
    counter = itertools.count()
    return lambda: start + next(counter) * step


def test_traffic_is_the_same_for_the_same_seed_run_id_and_clock(pool: Pool) -> None:
    def bodies(seed: int) -> list[bytes]:
        traffic = Traffic(pool, seed=seed, run_id="r", clock=ticking())
        return [request.body for request in traffic.take(500)]

    assert bodies(3) == bodies(3)
    assert bodies(3) != bodies(4)


def test_traffic_mix_gives_each_kind_its_share(pool: Pool) -> None:
    mix = TrafficMix(ordinary=0.5, hot_card=0.2, card_testing=0.1, retry=0.1, invalid=0.1)
    kinds = Counter(r.kind for r in Traffic(pool, mix, seed=1, clock=ticking()).take(5000))
    for kind, share in mix.__dict__.items():
        assert kinds[kind] / 5000 == pytest.approx(share, abs=0.03), kind


def test_valid_bodies_pass_the_api_schema_and_invalid_ones_fail_it(pool: Pool) -> None:
    traffic = Traffic(pool, seed=2, clock=ticking())
    for request in traffic.take(2000):
        # as the service reads a body: the edge's checks (card numbers), then the model
        if request.expected_status == 200:
            ScoreRequest.model_validate(parse_json(request.body))
        else:
            with pytest.raises((ValidationError, RequestError)):
                ScoreRequest.model_validate(parse_json(request.body))


def test_invalid_requests_include_a_card_number_in_place_of_a_token(pool: Pool) -> None:
    mix = TrafficMix.parse("invalid=1")
    cards = [
        orjson.loads(r.body).get("card", {}).get("id", "") for r in Traffic(pool, mix).take(200)
    ]
    assert any(looks_like_card_number(card) for card in cards)


def test_retries_repeat_a_body_sent_at_least_retry_after_seconds_earlier(pool: Pool) -> None:
    now = [1_790_000_000.0]
    traffic = Traffic(pool, TrafficMix(retry=0.3), seed=5, clock=lambda: now[0])
    first_sent: dict[str, tuple[float, bytes]] = {}
    retries = 0
    for _ in range(3000):
        now[0] += 0.01
        request = traffic.next()
        if request.kind == "retry":
            retries += 1
            sent_at, body = first_sent[request.transaction_id]
            assert body == request.body
            assert now[0] - sent_at >= 1.0  # retry_after_seconds
        elif request.expected_status == 200:
            first_sent[request.transaction_id] = (now[0], request.body)
    assert retries > 500


def test_card_testing_comes_in_bursts_of_small_amounts_on_one_card(pool: Pool) -> None:
    traffic = Traffic(pool, TrafficMix.parse("card_testing=1"), burst_size=10, clock=ticking())
    bodies = [orjson.loads(r.body) for r in traffic.take(30)]
    for burst in (bodies[0:10], bodies[10:20], bodies[20:30]):
        assert len({body["card"]["id"] for body in burst}) == 1
        assert len({body["merchant"]["id"] for body in burst}) > 1
        assert all(body["amount"] <= 5 for body in burst)


def test_hot_cards_are_few_cards_seen_again_and_again(pool: Pool) -> None:
    traffic = Traffic(pool, TrafficMix.parse("hot_card=1"), clock=ticking())
    cards = Counter(orjson.loads(r.body)["card"]["id"] for r in traffic.take(500))
    assert len(cards) <= 5


def test_mix_parse_names_an_unknown_kind_and_refuses_all_zero() -> None:
    with pytest.raises(TrafficError, match="unknown kind 'bogus'"):
        TrafficMix.parse("bogus=1")
    with pytest.raises(TrafficError, match="positive sum"):
        TrafficMix.parse("ordinary=0").probabilities()
