from __future__ import annotations

import msgpack
import numpy as np

from feature_store.state_codec import RingArrays, encode_states


def _ring(latest: list[int], slots: list[tuple[int, int, int, int]]) -> RingArrays:
    """`slots`: (entity, bucket, count, sum), sorted by entity then bucket."""
    entity = np.array([s[0] for s in slots], dtype=np.int64)
    bucket = np.array([s[1] for s in slots], dtype=np.int64)
    count = np.array([s[2] for s in slots], dtype=np.int64)
    total = np.array([s[3] for s in slots], dtype=np.int64)
    groups = len(latest)
    oldest = np.zeros(groups, dtype=np.int64)
    for e, b in zip(entity[::-1].tolist(), bucket[::-1].tolist(), strict=True):
        oldest[e] = b
    return RingArrays(
        latest=np.array(latest, dtype=np.int64),
        buckets=np.bincount(entity, minlength=groups).astype(np.int64),
        oldest=oldest,
        slot_entity=entity,
        slot_key=bucket,
        slot_bucket=bucket,
        slot_count=count,
        slot_sum=total,
    )


def test_encode_states_decodes_to_the_shape_entity_lua_keeps() -> None:
    window = _ring([7, 12], [(0, 6, 1, 250), (0, 7, 2, 1000), (1, 12, 1, 3)])
    empty = _ring([-1, -1], [])
    label = _ring([-1, 30], [(1, 30, 1, 0)])
    matured = _ring([20_000, 20_001], [(0, 20_000, 5, 1), (1, 20_001, 2, 0)])
    windows = [("1h", window), ("30d", empty)]
    blobs = encode_states(np.array([1_700_000_000_123, 42]), windows, label, matured)
    first, second = (msgpack.unpackb(b, strict_map_key=False) for b in blobs)
    assert first == {
        "p": [1_700_000_000_123],
        "w": {"1h": [7, 2, 6, {6: [6, 1, 250], 7: [7, 2, 1000]}], "30d": [-1, 0, 0, {}]},
        "L": [-1, 0, 0, {}],
        "M": [20_000, 1, 20_000, {20_000: [20_000, 5, 1]}],
        "s": {},
    }
    assert second["p"] == [42]
    assert second["w"]["1h"] == [12, 1, 12, {12: [12, 1, 3]}]
    assert second["L"] == [30, 1, 30, {30: [30, 1, 0]}]
    assert second["M"] == [20_001, 1, 20_001, {20_001: [20_001, 2, 0]}]
