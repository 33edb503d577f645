"""Time windows made of fixed buckets, so that offline and online count exactly the same events
(the windows themselves are declared in feature_store/features.yaml).

A window of `bucket_count` buckets of `bucket_seconds` covers, for an event at time t, every
earlier event whose bucket index is at least `bucket(t) - bucket_count + 1`: the current, partly
elapsed bucket and the whole ones before it. The "1h" window is therefore 55 to 60 minutes long.

Each entity keeps, per window, its `kept_buckets` latest distinct buckets (the window and
`SPARE_BUCKETS` more): a few events dated ahead of an entity's present take the spare places,
not the present's (see docs/features.md, "Event time").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    name: str
    bucket_seconds: int
    bucket_count: int

    @property
    def bucket_ms(self) -> int:
        return self.bucket_seconds * 1000

    @property
    def kept_buckets(self) -> int:
        """How many distinct buckets an entity keeps for the window: once it holds this many,
        an event older than all of them counts no more."""
        return self.bucket_count + SPARE_BUCKETS

    @property
    def span_seconds(self) -> int:
        """The longest time an event stays in the window."""
        return self.bucket_seconds * self.bucket_count

    def bucket(self, ts_ms: int) -> int:
        return ts_ms // self.bucket_ms

    def first_bucket(self, ts_ms: int) -> int:
        """The oldest bucket still inside the window of an event at `ts_ms`."""
        return self.bucket(ts_ms) - self.bucket_count + 1

    def start_ms(self, ts_ms: int) -> int:
        """The earliest event time inside the window of an event at `ts_ms`."""
        return self.first_bucket(ts_ms) * self.bucket_ms


# Buckets kept beyond a window's own: how many distinct buckets dated ahead of an entity's
# present it can hold before the present's oldest bucket is dropped. The service bounds event
# time to a few minutes ahead of its clock, at most one or two buckets of the shortest window.
SPARE_BUCKETS = 4
# Distinct latest event times kept per entity for "seconds since the previous transaction".
PREVIOUS_KEPT = SPARE_BUCKETS + 1
