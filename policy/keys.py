"""The Redis key layout of published policies and block/allow lists: every policy-related key is
built here and nowhere else (the feature store's keys are in `feature_store.keys`).

All of these keys are durable configuration and carry no TTL: a published policy text must stay
readable for rollback and audit, and a list must not vanish under the workers. List entries
expire one by one (their expiry is in `<list>:expiry`; workers ignore an expired entry at check
time and `ListStore.purge_expired` deletes it). The layout version is part of every key, and
every key carries the hash tag `{policy}`: on a Redis Cluster they share one slot, so the
multi-key reads, transactions and scripts below work there too.

    rs:v1:{policy}:current                  string  version of the policy every worker serves
    rs:v1:{policy}:v:<version>              hash    text, source, actor, published_at (epoch s)
    rs:v1:{policy}:audit                    list    JSON audit entries, newest first (LPUSH)
    rs:v1:{policy}:list:names               set     names of the lists that ever held an entry
    rs:v1:{policy}:list:<name>:entries      hash    entry -> JSON {added_at, actor, note,
                                                    expires_at}
    rs:v1:{policy}:list:<name>:expiry       zset    entry -> expires_at (epoch s), expiring
                                                    entries only
    rs:v1:{policy}:list:<name>:version      string  counter, INCR on every change of the list

`<version>` is the policy's content hash; `<name>` a list name as declared in the policy. The
prefix (`rs:v1`) is injectable so that tests and several deployments can share one server.
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

    @property
    def list_names(self) -> str:
        return f"{self.prefix}:{{policy}}:list:names"

    def list_entries(self, name: str) -> str:
        return f"{self.prefix}:{{policy}}:list:{name}:entries"

    def list_expiry(self, name: str) -> str:
        return f"{self.prefix}:{{policy}}:list:{name}:expiry"

    def list_version(self, name: str) -> str:
        return f"{self.prefix}:{{policy}}:list:{name}:version"
