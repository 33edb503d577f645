"""Publishing: which policy every worker serves. Validated texts kept by content-hash version,
the audit trail of every publish and rollback, and the check a new policy passes first.

policy text -> `acceptance.accept_policy` -> `store.PolicyStore` (Redis, `keys`) -> workers.
"""
