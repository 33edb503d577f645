"""Backtests and rule health: a labelled history replayed through features, model and rules.

history -> `compute_features` (once) -> model scores (once) -> every rule's checked form over
whole columns (`policy.language.columnwise`) -> decisions (the service's semantics) ->
per-policy and per-rule statistics against the labels. `backtest.report` renders them;
docs/policy-backtest.md defines every number.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from backtest.statistics import (
    DECISIONS,
    PROMOTE_PRECISION,
    Bools,
    Floats,
    Ints,
    PolicyRun,
    PolicySummary,
    band_severity,
    combine,
    deciding_rules,
    summarise,
)
from feature_store.offline import DEFAULT_LABEL_DELAY_SECONDS, compute_features
from policy.decision import Policy
from policy.language.columns import Columns
from policy.language.columnwise import evaluate

if TYPE_CHECKING:
    from model.artifact import Model

SCORE_BATCH_ROWS = 200_000


@dataclass(frozen=True)
class Replay:
    """A labelled history with each row's point-in-time features and model score."""

    history: pd.DataFrame
    features: pd.DataFrame
    scores: Floats

    @cached_property
    def fraud(self) -> Bools:
        return cast(Bools, self.history["is_fraud"].to_numpy(dtype=np.float64) == 1.0)

    @cached_property
    def legit(self) -> Bools:
        return cast(Bools, self.history["is_fraud"].to_numpy(dtype=np.float64) == 0.0)

    @cached_property
    def amount_usd(self) -> Floats:
        """The `amount_usd` feature: the amount the rules compare, in US dollars."""
        return self.features["amount_usd"].to_numpy(dtype=np.float64)

    @cached_property
    def columns(self) -> Columns:
        return Columns(self.history, self.features, self.scores)


def replay_history(
    history: pd.DataFrame,
    model: Model,
    *,
    label_delay_seconds: int = DEFAULT_LABEL_DELAY_SECONDS,
    timings: dict[str, float] | None = None,
) -> Replay:
    """Features (once, point in time) and scores (once, in batches) for a normalised history."""
    started = time.perf_counter()
    features = compute_features(
        history, label_delay_seconds=label_delay_seconds, rule_features=True
    )
    computed = time.perf_counter()
    scores = score_features(model, features)
    if timings is not None:
        timings["features"] = computed - started
        timings["scores"] = time.perf_counter() - computed
    return Replay(history, features, scores)


def score_features(model: Model, features: pd.DataFrame) -> Floats:
    """Calibrated scores of every row, in batches that keep the float32 copy small."""
    ordered = features[list(model.manifest.features)]
    parts = [
        model.scores(ordered.iloc[start : start + SCORE_BATCH_ROWS].to_numpy(dtype=np.float32))
        for start in range(0, len(ordered), SCORE_BATCH_ROWS)
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)


def run_policy(policy: Policy, replay: Replay, *, now: float | None = None) -> PolicyRun:
    """Evaluate every rule of `policy` over the replay and combine them as the service does.

    Expired rules (at `now`, by default the current time) are evaluated for their statistics
    but decide nothing; shadow rules never decide. Lists come from the policy file's inline
    entries only: the service's Redis-managed entries are not read.
    """
    moment = time.time() if now is None else now
    columns = replay.columns.with_lists(policy.static_lists)
    matches = {rule.id: evaluate(rule.condition, columns) for rule in policy.rules}
    expired = frozenset(
        r.id for r in policy.rules if r.expires_at is not None and moment >= r.expires_at
    )
    bands = band_severity(policy, replay.scores)
    decisions = combine(policy.rules, matches, bands, deciding_rules(policy, expired))
    return PolicyRun(policy, matches, expired, bands, decisions)


@dataclass(frozen=True)
class Backtest:
    """A new policy beside its baseline (when given) over the same replay."""

    new: PolicySummary
    baseline: PolicySummary | None
    changed: int  # transactions whose decision differs
    transitions: pd.DataFrame  # baseline decision (rows) x new decision (columns), counts
    sample: pd.DataFrame  # up to `sample_size` changed transactions


def backtest(
    new: Policy,
    replay: Replay,
    *,
    baseline: Policy | None = None,
    now: float | None = None,
    sample_size: int = 20,
    promote_precision: float = PROMOTE_PRECISION,
) -> Backtest:
    """Replay `new` (and `baseline`) over `replay` and compare their decisions."""
    new_run = run_policy(new, replay, now=now)
    summary = summarise(new_run, replay, promote_precision=promote_precision)
    if baseline is None:
        return Backtest(summary, None, 0, pd.DataFrame(), pd.DataFrame())
    base_run = run_policy(baseline, replay, now=now)
    changed = base_run.decisions != new_run.decisions
    names = [d.value for d in DECISIONS]
    transitions = pd.crosstab(
        pd.Categorical([names[i] for i in base_run.decisions], categories=names),
        pd.Categorical([names[i] for i in new_run.decisions], categories=names),
        rownames=["baseline"],
        colnames=["new"],
        dropna=False,
    )
    return Backtest(
        new=summary,
        baseline=summarise(base_run, replay, promote_precision=promote_precision),
        changed=int(changed.sum()),
        transitions=transitions,
        sample=_sample(base_run, new_run, replay, changed, sample_size),
    )


def _sample(
    base: PolicyRun, new: PolicyRun, replay: Replay, changed: Bools, size: int
) -> pd.DataFrame:
    """A seeded random sample of changed transactions, in history order."""
    rows = np.flatnonzero(changed)
    if len(rows) > size:
        rows = np.sort(np.random.default_rng(0).choice(rows, size, replace=False))
    history = replay.history
    label = history["is_fraud"].to_numpy(dtype=np.float64)[rows]
    return pd.DataFrame(
        {
            "transaction_id": history["transaction_id"].to_numpy(dtype=object)[rows],
            "amount_usd": np.round(replay.amount_usd[rows], 2),
            "label": np.where(np.isnan(label), "", np.where(label == 1.0, "fraud", "legit")),
            "score": np.round(replay.scores[rows], 4),
            "baseline": [DECISIONS[i].value for i in base.decisions[rows]],
            "new": [DECISIONS[i].value for i in new.decisions[rows]],
            "baseline_rules": _matched_names(base, rows),
            "new_rules": _matched_names(new, rows),
        }
    )


def _matched_names(run: PolicyRun, rows: Ints) -> list[str]:
    deciding = [r.id for r in run.policy.rules if r.id in run.deciding]
    return [", ".join(i for i in deciding if run.matches[i][row]) for row in rows]
