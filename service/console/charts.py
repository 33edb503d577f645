"""Charts as inline SVG, drawn on the server: this module computes the geometry, the
templates (`_bars.svg`, `_timeline.svg`) only place it. No script, no inline style: the CSP
stays strict and a test reads the chart as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from backtest.statistics import RuleStats

WIDTH = 640
ROW_HEIGHT = 22
LABEL_WIDTH = 200
BAR_AREA = WIDTH - LABEL_WIDTH - 150  # room for the figures after the widest bar


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    width: float  # matches, scaled to the widest
    precision_width: float  # the share of labelled matches that were fraud, of the bar area
    text: str
    css_class: str  # "live", "shadow" or "expired"


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bar_area: int
    row_height: int
    bars: tuple[Bar, ...]


def rule_bars(rules: Sequence[RuleStats]) -> BarChart:
    """A row per rule: its matches as a bar (the widest rule fills the area) and, under it, its
    precision on the same area (100 % fills it)."""
    widest = max((rule.matches for rule in rules), default=0) or 1
    bars = []
    for index, rule in enumerate(rules):
        precision = rule.precision or 0.0
        text = f"{rule.matches} matches"
        if rule.precision is not None:
            text += f", {rule.precision:.0%} precise"
        css = "expired" if rule.expired else ("shadow" if rule.mode == "shadow" else "live")
        bars.append(
            Bar(
                rule.rule_id,
                index * ROW_HEIGHT * 1.5,
                BAR_AREA * rule.matches / widest,
                BAR_AREA * precision,
                text,
                css,
            )
        )
    height = int(len(bars) * ROW_HEIGHT * 1.5) + 4
    return BarChart(WIDTH, height, LABEL_WIDTH, BAR_AREA, ROW_HEIGHT, tuple(bars))


@dataclass(frozen=True)
class Point:
    transaction_id: str
    x: float
    y: float  # the score: 0 at the bottom, 1 at the top
    css_class: str  # the decision, and "fraud" when labelled so
    title: str
    current: bool


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    points: tuple[Point, ...]
    first: datetime | None
    last: datetime | None


TIMELINE_HEIGHT = 120
MARGIN = 12


def timeline(rows: Sequence[dict[str, object]], current: str) -> Timeline:
    """The card's recent decisions (rows of `list_decisions`) along time, by score."""
    moments = [row["occurred_at"] for row in rows if isinstance(row["occurred_at"], datetime)]
    if not moments:
        return Timeline(WIDTH, TIMELINE_HEIGHT, (), None, None)
    first, last = min(moments), max(moments)
    span = (last - first).total_seconds() or 1.0
    points = []
    for row in rows:
        moment = row["occurred_at"]
        score = row["score"]
        if not isinstance(moment, datetime):
            continue
        value = float(score) if isinstance(score, int | float) else 0.0
        label = row.get("label")
        fraud = label in ("chargeback", "confirmed_fraud")
        x = MARGIN + (WIDTH - 2 * MARGIN) * (moment - first).total_seconds() / span
        y = MARGIN + (TIMELINE_HEIGHT - 2 * MARGIN) * (1.0 - value)
        title = f"{row['transaction_id']}: {row['decision']}, score {value:.3f}"
        if label:
            title += f", {label}"
        css = f"{row['decision']}{' fraud' if fraud else ''}"
        points.append(
            Point(str(row["transaction_id"]), x, y, css, title, row["transaction_id"] == current)
        )
    return Timeline(WIDTH, TIMELINE_HEIGHT, tuple(points), first, last)
