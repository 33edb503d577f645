"""Entity states for bulk loading, encoded as the MessagePack that `entity.lua` keeps, for every
entity of a kind at once with array operations (no Python object per entity or bucket).

A state decodes to {"p": [latest time], "w": {window name: ring}, "L": known-label ring,
"M": matured ring, "s": {}}, a ring to [latest bucket, bucket count, oldest bucket,
{bucket: [bucket, count, sum]}]. Every integer is written as a MessagePack int64 (fixed
width), which is what makes the layout computable in advance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.uint8]

INT = 9  # 0xd3 and eight big-endian bytes
HEAD = 1 + 2 + 1 + INT + 2 + 1  # map of 5, "p", [time], "w", map header
RING_HEAD = 1 + 3 * INT + 3  # array of 4, last, count, sum, map16 header
SLOT = INT + 1 + 3 * INT  # slot key, array of 3: bucket, count, sum
TAIL = 3  # "s", empty map


@dataclass(frozen=True)
class RingArrays:
    """The rings of every entity of a kind for one window. Per entity: its `latest` and
    `oldest` bucket and how many it keeps (`buckets`); per slot, sorted by entity then bucket:
    its entity, key, bucket, count, sum."""

    latest: Ints
    buckets: Ints
    oldest: Ints
    slot_entity: Ints
    slot_key: Ints
    slot_bucket: Ints
    slot_count: Ints
    slot_sum: Ints


def _ints(values: Ints) -> Bytes:
    out = np.empty((len(values), INT), dtype=np.uint8)
    out[:, 0] = 0xD3
    out[:, 1:] = np.asarray(values, dtype=">i8").view(np.uint8).reshape(-1, 8)
    return out


def _constant(count: int, *values: int) -> Bytes:
    return np.tile(np.array(values, dtype=np.uint8), (count, 1))


def _put(buffer: Bytes, positions: Ints, rows: Bytes) -> None:
    buffer[positions[:, None] + np.arange(rows.shape[1])] = rows


def encode_states(
    latest: Ints, windows: list[tuple[str, RingArrays]], label: RingArrays, matured: RingArrays
) -> list[bytes]:
    """One MessagePack state per entity, in entity-code order; `windows` by window name."""
    if len(windows) > 15:
        raise ValueError("at most 15 windows fit the fixed-size map header")
    count = len(latest)
    rings = [ring for _, ring in windows] + [label, matured]
    prefixes = [bytes([0xA0 | len(name)]) + name.encode() for name, _ in windows]
    prefixes += [b"\xa1L", b"\xa1M"]
    slots = [np.bincount(r.slot_entity, minlength=count).astype(np.int64) for r in rings]
    lengths = [len(p) + RING_HEAD + SLOT * s for p, s in zip(prefixes, slots, strict=True)]
    size: Ints = np.full(count, HEAD + TAIL, dtype=np.int64) + np.sum(lengths, axis=0)
    start = np.concatenate(([0], np.cumsum(size)[:-1])).astype(np.int64)
    buffer = np.zeros(int(size.sum()), dtype=np.uint8)
    head = np.hstack(
        [
            _constant(count, 0x85, 0xA1, ord("p"), 0x91),
            _ints(latest),
            _constant(count, 0xA1, ord("w"), 0x80 | len(windows)),  # fixmap: at most 15
        ]
    )
    _put(buffer, start, head)
    offset = start + HEAD
    for prefix, ring, slot_count in zip(prefixes, rings, slots, strict=True):
        _put(buffer, offset, _constant(count, *prefix))
        offset = offset + len(prefix)
        _write_ring(buffer, offset, ring, slot_count)
        offset = offset + RING_HEAD + SLOT * slot_count
    _put(buffer, offset, _constant(count, 0xA1, ord("s"), 0x80))
    return [
        buffer[a:b].tobytes() for a, b in zip(start.tolist(), (start + size).tolist(), strict=True)
    ]


def _write_ring(buffer: Bytes, offset: Ints, ring: RingArrays, slots: Ints) -> None:
    header = np.hstack(
        [
            _constant(len(offset), 0x94),
            _ints(ring.latest),
            _ints(ring.buckets),
            _ints(ring.oldest),
            _constant(len(offset), 0xDE),
            np.asarray(slots, dtype=">u2").view(np.uint8).reshape(-1, 2),
        ]
    )
    _put(buffer, offset, header)
    if not len(ring.slot_entity):
        return
    first = np.searchsorted(ring.slot_entity, ring.slot_entity, side="left")
    rank = np.arange(len(ring.slot_entity)) - first
    positions = offset[ring.slot_entity] + RING_HEAD + SLOT * rank
    records = np.hstack(
        [
            _ints(ring.slot_key),
            _constant(len(positions), 0x93),
            _ints(ring.slot_bucket),
            _ints(ring.slot_count),
            _ints(ring.slot_sum),
        ]
    )
    _put(buffer, positions, records)
