from __future__ import annotations

import pytest

from history.simulator import SimulationConfig, simulate


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("days", "breached"), [(7, False), (9, False), (10, True)])
def test_compromised_merchant_needs_the_breach_week_and_the_wait_after_it(
    days: int, breached: bool
) -> None:
    # Its fraud comes at least 2 days after a 7-day breach that starts on day 0 at the earliest.
    config = SimulationConfig(transactions=10_000, days=days, seed=5, fraud_rate=0.2)
    history = simulate(config)
    assert ("compromised_merchant" in set(history["fraud_scenario"])) is breached
    # A typology that does not fit leaves its share to the next, so the fraud rate holds.
    assert history["is_fraud"].mean() == pytest.approx(config.fraud_rate, rel=0.1)
