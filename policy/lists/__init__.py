"""Block and allow lists: what a list holds and how its entries are written (`kinds`), the
in-memory tables a lookup reads (`tables`), the admin store in Redis (`store`, keys in `keys`)
and the snapshot each worker keeps fresh (`snapshot`).

admin (CLI, API) -> `ListStore` -> Redis -> `ListSnapshot` (one table per list) -> `contains`.
"""
