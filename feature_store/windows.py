"""Time windows made of fixed buckets, so that offline and online count exactly the same events.

A window of `bucket_count` buckets of `bucket_seconds` covers, for an event at time t, every
earlier event whose bucket index is at least `bucket(t) - bucket_count + 1`: the current, partly
elapsed bucket and the whole ones before it. The "1h" window is therefore 55 to 60 minutes long.
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


WINDOW_1H = Window("1h", 300, 12)
WINDOW_24H = Window("24h", 3_600, 24)
WINDOW_7D = Window("7d", 21_600, 28)
WINDOW_30D = Window("30d", 86_400, 30)

WINDOWS: tuple[Window, ...] = (WINDOW_1H, WINDOW_24H, WINDOW_7D, WINDOW_30D)

# Entity state older than this is never read: the online store sets it as the key TTL.
RETENTION_SECONDS: int = max(w.span_seconds + w.bucket_seconds for w in WINDOWS)
