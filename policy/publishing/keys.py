"""The Redis key layout of published policies: every publishing key is built here and nowhere
else (the lists' keys are in `policy.lists.keys`, the feature store's in `feature_store.keys`).

These keys are durable configuration and carry no TTL: a published policy text must stay
readable for rollback and audit. Every key carries the hash tag `{policy}`: on a Redis Cluster
they share one slot, so the publishing transaction (text, audit entry, pointer) works there too.

    rs:v1:{policy}:current                  string  version of the policy every worker serves
    rs:v1:{policy}:v:<version>              hash    text, source, actor, published_at (epoch s)
    rs:v1:{policy}:audit                    list    JSON audit entries, newest first (LPUSH)

`<version>` is the policy's content hash. The prefix (`rs:v1`) is injectable so that tests and
several deployments can share one server.
"""

from __future__ import annotations

from dataclasses import dataclass

from feature_store.keys import PREFIX


@dataclass(frozen=True)
class PolicyKeys:
    """Builds the keys under one prefix (`rs:v1` unless told otherwise)."""

    prefix: str = PREFIX

    @property
    def current(self) -> str:
        return f"{self.prefix}:{{policy}}:current"

    def policy(self, version: str) -> str:
        return f"{self.prefix}:{{policy}}:v:{version}"

    @property
    def audit(self) -> str:
        return f"{self.prefix}:{{policy}}:audit"
