"""Fraud typologies of the simulator, each a scenario a payments team would recognise.

Each scenario function (`history.card_fraud`, `history.account_fraud`) returns the rows of one
episode; `fraud_batches` runs episodes until each scenario has its share of the fraud budget.
A scenario that does not fit in the history returns an empty episode and leaves its share to
the next one. docs/simulator.md describes each scenario and the signals it leaves.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from history.account_fraud import account_takeover, friendly_fraud, quiet_takeover
from history.card_fraud import (
    bin_attack,
    card_testing,
    compromised_merchant,
    slow_burn,
    stolen_card,
)
from history.episodes import DAY_MS, Batch, EpisodeContext, Visits
from history.population import Population

__all__ = ["SCENARIOS", "Batch", "Visits", "fraud_batches"]

# Each scenario's writer and share of the fraud rows. The order matters: a scenario that does
# not fit in a short history leaves its share to the next one, so the last one always fits.
WRITERS: dict[str, tuple[Callable[[EpisodeContext], Batch], float]] = {
    "card_testing": (card_testing, 0.08),
    "bin_attack": (bin_attack, 0.06),
    "stolen_card": (stolen_card, 0.12),
    "account_takeover": (account_takeover, 0.07),
    "compromised_merchant": (compromised_merchant, 0.20),
    "quiet_takeover": (quiet_takeover, 0.16),
    "friendly_fraud": (friendly_fraud, 0.15),
    "slow_burn": (slow_burn, 0.16),
}
SCENARIOS: dict[str, float] = {name: share for name, (_, share) in WRITERS.items()}


def fraud_batches(
    population: Population,
    rng: np.random.Generator,
    legit: tuple[Batch, Visits],
    rows: int,
    window_ms: tuple[int, int],
    progress: Callable[[int], object],
) -> list[Batch]:
    """Fraud rows of every scenario, about `rows` in all, in whole episodes inside
    `window_ms` (start, end). `progress` hears the rows written, once per scenario.

    An empty episode means the scenario does not fit in this history (too short): asking
    again would never fill its share, so the rest of its share goes to the next scenario and
    the fraud rate holds.
    """
    batches = []
    start_ms, end_ms = window_ms
    days = (end_ms - start_ms) // DAY_MS
    left_over = 0
    for name, (writer, share) in WRITERS.items():
        context = EpisodeContext(population, rng, legit[0], legit[1], start_ms, days, name)
        budget, written = int(rows * share) + left_over, 0
        while written < budget:
            episode = writer(context)
            if not len(episode["ts_ms"]):
                break
            inside = episode["ts_ms"] < end_ms  # a late episode may run past the end
            batches.append({column: values[inside] for column, values in episode.items()})
            written += int(inside.sum())
        left_over = max(budget - written, 0)
        progress(written)
    return batches
