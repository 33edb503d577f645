"""What a new policy must pass before it is published or called valid: every check of the
loader, and no rule that has expired already (it would be published as a rule that never
matches). `riskscore policy validate`, the admin API's validate and every publish use it.

A policy loaded again later (a worker starting, a rollback) goes through the loader alone: a
temporary rule that expired since it was published is then reported as expired with each
decision, not a reason to stop serving.
"""

from __future__ import annotations

import time

from policy.decision import Policy
from policy.document import expired_rules, read_document
from policy.errors import PolicyError
from policy.loader import parse_policy


def accept_policy(text: str, source: str, *, now: float | None = None) -> Policy:
    """The policy in `text`, checked as a new one; raises `PolicyError` with every problem."""
    moment = time.time() if now is None else now
    # The schema is read a second time for the rules' places: the loader does not keep them.
    document, _ = read_document(text, source)
    expired = expired_rules(document, moment)
    try:
        policy = parse_policy(text, source)
    except PolicyError as exc:
        raise PolicyError([*exc.problems, *expired]) from exc
    if expired:
        raise PolicyError(expired)
    return policy
