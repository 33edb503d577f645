from __future__ import annotations

import msgpack
import numpy as np

from feature_store.state_codec import RingArrays, encode_states


def _ring(last: list[int], slots: list[tuple[int, int, int, int]], buckets: int) -> RingArrays:
    """`slots`: (entity, bucket, count, sum), sorted by entity then bucket."""
    entity = np.array([s[0] for s in slots], dtype=np.int64)
    bucket = np.array([s[1] for s in slots], dtype=np.int64)
    count = np.array([s[2] for s in slots], dtype=np.int64)
    total = np.array([s[3] for s in slots], dtype=np.int64)
    groups = len(last)
    per_count = np.zeros(groups, dtype=np.int64)
    per_sum = np.zeros(groups, dtype=np.int64)
    np.add.at(per_count, entity, count)
    np.add.at(per_sum, entity, total)
    return RingArrays(
        last=np.array(last, dtype=np.int64),
        count=per_count,
        total=per_sum,
        slot_entity=entity,
        slot_key=bucket % buckets,
        slot_bucket=bucket,
        slot_count=count,
        slot_sum=total,
    )


def test_encode_states_decodes_to_the_shape_entity_lua_keeps() -> None:
    window = _ring([7, 12], [(0, 6, 1, 250), (0, 7, 2, 1000), (1, 12, 1, 3)], buckets=4)
    empty = _ring([-1, -1], [], buckets=4)
    label = _ring([-1, 30], [(1, 30, 1, 0)], buckets=30)
    blobs = encode_states(np.array([1_700_000_000_123, 42]), [window, empty], label)
    first, second = (msgpack.unpackb(b, strict_map_key=False) for b in blobs)
    assert first == {
        "p": 1_700_000_000_123,
        "w": [[7, 3, 1250, {2: [6, 1, 250], 3: [7, 2, 1000]}], [-1, 0, 0, {}]],
        "L": [-1, 0, 0, {}],
        "s": {},
    }
    assert second["w"][0] == [12, 1, 3, {0: [12, 1, 3]}]
    assert second["L"] == [30, 1, 0, {0: [30, 1, 0]}]
