"""The Redis key layout of the block and allow lists: every list key is built here and nowhere
else (published policies' keys are in `policy.publishing.keys`, the feature store's in
`feature_store.keys`).

The keys are durable configuration and carry no TTL: a list must not vanish under the workers.
Entries expire one by one instead (their expiry is in `<list>:expiry`; workers ignore an
expired entry at check time and `ListStore.purge_expired` deletes it). Every key carries the
hash tag `{policy}`: on a Redis Cluster a list's keys share one slot, so the scripts,
transactions and multi-key reads of the store and the snapshot work there too.

    rs:v1:{policy}:list:names               set     names of the lists that ever held an entry
    rs:v1:{policy}:list:<name>:entries      hash    entry -> JSON {added_at, actor, note,
                                                    expires_at}
    rs:v1:{policy}:list:<name>:expiry       zset    entry -> expires_at (epoch s), expiring
                                                    entries only
    rs:v1:{policy}:list:<name>:version      string  counter, INCR on every change of the list

`<name>` is a list name as declared in the policy. The prefix (`rs:v1`) is injectable so that
tests and several deployments can share one server.
"""

from __future__ import annotations

from dataclasses import dataclass

from feature_store.keys import PREFIX


@dataclass(frozen=True)
class ListKeys:
    """Builds the list keys under one prefix (`rs:v1` unless told otherwise)."""

    prefix: str = PREFIX

    @property
    def list_names(self) -> str:
        return f"{self.prefix}:{{policy}}:list:names"

    def list_entries(self, name: str) -> str:
        return f"{self.prefix}:{{policy}}:list:{name}:entries"

    def list_expiry(self, name: str) -> str:
        return f"{self.prefix}:{{policy}}:list:{name}:expiry"

    def list_version(self, name: str) -> str:
        return f"{self.prefix}:{{policy}}:list:{name}:version"


def decoded(value: bytes | str) -> str:
    """A key or member as text, from clients that decode responses and from those that do not."""
    return value.decode() if isinstance(value, bytes) else value
