"""Published policies against a real Redis: publish, audit with diffs, no-op republish,
refusal, rollback, and the watcher that hot-swaps workers."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from redis.asyncio import Redis

from policy.errors import PolicyError
from policy.loader import parse_policy
from policy.publishing.store import NoPreviousError, PolicyStore, UnknownVersionError
from tests.policy.conftest import Run

pytestmark = pytest.mark.redis

DEFAULT_POLICY = Path(__file__).parents[3] / "policies" / "default.yaml"


def policy_variant(number: int) -> str:
    """A valid policy text of its own version: the default one with a comment added."""
    return variant_text(DEFAULT_POLICY.read_text(encoding="utf-8"), number)


def variant_text(text: str, number: int) -> str:
    return f"{text.rstrip()}\n# variant {number}\n"


def test_policy_variants_have_their_own_versions() -> None:
    versions = {parse_policy(policy_variant(n), "variant").version for n in range(3)}
    assert len(versions) == 3


def test_publish_stores_audits_and_moves_current(run: Run, prefix: str) -> None:
    first, second = policy_variant(1), policy_variant(2)

    async def job(client: Redis) -> None:
        store = PolicyStore(client, prefix=prefix)
        assert await store.current() is None
        one = await store.publish(first, "one.yaml", "alice")
        assert (one.changed, one.previous) == (True, None)
        two = await store.publish(second, "two.yaml", "bob")
        assert (two.changed, two.previous) == (True, one.version)
        assert two.version == parse_policy(second, "two.yaml").version
        assert await store.current() == (two.version, second)
        assert await store.get(one.version) == first
        assert await store.get("no-such-version") is None
        newest, oldest = await store.history()
        assert (newest.action, newest.version, newest.previous) == (
            "publish",
            two.version,
            one.version,
        )
        assert (newest.actor, newest.source) == ("bob", "two.yaml")
        assert "-# variant 1\n" in newest.diff and "+# variant 2\n" in newest.diff
        assert newest.diff.startswith(f"--- {one.version}\n+++ {two.version}\n")
        assert (oldest.actor, oldest.previous) == ("alice", None)
        assert oldest.at <= newest.at
        assert len(await store.history(limit=1)) == 1

    run(job)


def test_republishing_the_current_version_is_a_noop(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = PolicyStore(client, prefix=prefix)
        first = await store.publish(policy_variant(1), "one.yaml", "alice")
        again = await store.publish(policy_variant(1), "one.yaml", "bob")
        assert (again.changed, again.version, again.diff) == (False, first.version, "")
        assert len(await store.history()) == 1

    run(job)


def test_refused_policy_leaves_current_untouched(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = PolicyStore(client, prefix=prefix)
        good = await store.publish(policy_variant(1), "good.yaml", "alice")
        with pytest.raises(PolicyError):
            await store.publish("rules: [this is not a policy", "bad.yaml", "mallory")
        assert (await store.current() or ("", ""))[0] == good.version
        assert len(await store.history()) == 1

    run(job)


def test_rollback_to_previous_and_to_a_version(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = PolicyStore(client, prefix=prefix)
        with pytest.raises(NoPreviousError):
            await store.rollback(None, "bob")
        one = await store.publish(policy_variant(1), "one.yaml", "alice")
        two = await store.publish(policy_variant(2), "two.yaml", "alice")
        three = await store.publish(policy_variant(3), "three.yaml", "alice")
        back = await store.rollback(None, "bob")
        assert (back.version, back.previous, back.changed) == (two.version, three.version, True)
        assert (await store.current() or ("", ""))[0] == two.version
        to_one = await store.rollback(one.version[:10], "carol")
        assert to_one.version == one.version
        newest = (await store.history(limit=1))[0]
        assert (newest.action, newest.actor, newest.previous) == ("rollback", "carol", two.version)
        assert "+# variant 1\n" in newest.diff
        with pytest.raises(UnknownVersionError, match="no version starts with it"):
            await store.rollback("zzz", "bob")
        same = await store.rollback(one.version, "bob")
        assert not same.changed

    run(job)


def test_concurrent_publishes_each_audit_the_right_previous(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        stores = [PolicyStore(client, prefix=prefix) for _ in range(5)]
        texts = [policy_variant(n) for n in range(5)]
        await asyncio.gather(
            *(
                s.publish(t, f"{n}.yaml", "a")
                for n, (s, t) in enumerate(zip(stores, texts, strict=True))
            )
        )
        entries = await stores[0].history()
        assert len(entries) == 5
        # Each entry's previous is the version of the entry published just before it.
        for newer, older in itertools.pairwise(entries):
            assert newer.previous == older.version
        assert entries[-1].previous is None

    run(job)
