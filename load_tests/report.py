"""A run's report: `report.md` (configuration, achieved rate, statuses, outcomes, latency
percentiles, the server's metrics), `summary.json`, two charts (PNG): latency over time and a
latency histogram, and every request's figures in `samples.npz` (numpy arrays).

samples -> `Summary` -> markdown + charts in one folder, opened by a person or read by a tool.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from load_tests.samples import ERROR_OUTCOMES, OUTCOMES, Samples, Summary

SAMPLE_ARRAYS = ("intended", "dispatched", "latency", "service", "status", "kind", "outcome")
Span = tuple[float, float, str]  # start and end (seconds from the run's start), label


@dataclass(frozen=True)
class RunInfo:
    """What was run, as the report's configuration table shows it."""

    title: str
    settings: dict[str, str]
    spans: Sequence[Span] = ()
    notes: list[str] = field(default_factory=list)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


def behind_warning(summary: Summary) -> str | None:
    if not summary.behind:
        return None
    return (
        f"**The generator fell behind**: {summary.behind_share:.1%} of requests left more than "
        f"5 ms after their intended time (lag p99 {summary.lag_ms['p99']:.1f} ms). Latencies "
        "below include that lag; lower the rate, use `--client raw`, or run the generator on "
        "another machine."
    )


def render(info: RunInfo, summary: Summary, metrics: list[tuple[str, float]]) -> str:
    """The markdown of a run's report."""
    parts = [f"# {info.title}", ""]
    parts += [markdown_table(("setting", "value"), sorted(info.settings.items())), ""]
    warning = behind_warning(summary)
    parts += [warning, ""] if warning else []
    parts += [paragraph for note in info.notes for paragraph in (note, "")]
    parts += _result(summary) + _latency(summary) + _server(metrics)
    return "\n".join(parts)


def _result(summary: Summary) -> list[str]:
    no_answer = f" (no answer: {summary.no_answer_causes})" if summary.no_answer_causes else ""
    lag = summary.lag_ms
    outcomes = [(name, n, "yes" if name in ERROR_OUTCOMES else "") for name, n in _ordered(summary)]
    return [
        "## Result",
        "",
        f"* requests: {summary.requests} in {summary.duration:.1f} s; achieved rate "
        f"**{summary.achieved_rate:.1f} requests/s**",
        "* errors (no answer, unexpected status, 200 without a valid decision): "
        f"**{summary.errors}**{no_answer}",
        f"* generator lag (dispatch after intended time): p50 {_ms(lag['p50'])} ms, "
        f"p99 {_ms(lag['p99'])} ms, max {_ms(lag['max'])} ms",
        "",
        markdown_table(("status", "count"), list(summary.statuses.items())),
        "",
        markdown_table(("outcome", "count", "error"), outcomes),
        "",
        markdown_table(("request kind", "count"), list(summary.kinds.items())),
        "",
    ]


def _latency(summary: Summary) -> list[str]:
    rows = [
        ("from intended time", *map(_ms, summary.latency_ms.values())),
        ("service time", *map(_ms, summary.service_ms.values())),
    ]
    return [
        "## Latency (ms)",
        "",
        "From the intended send time (includes any queueing; free of coordinated omission) and "
        "from the actual send (service time).",
        "",
        markdown_table(("", *summary.latency_ms), rows),
        "",
        "![latency over time](latency_over_time.png)",
        "",
        "![latency histogram](latency_histogram.png)",
        "",
    ]


def _server(metrics: list[tuple[str, float]]) -> list[str]:
    lines = [f"{series} {value:+g}" for series, value in metrics]
    heading = ["## Server metrics (change during the run)", "", "```"]
    return [*heading, *(lines or ["(/metrics could not be read)"]), "```", ""]


def _ordered(summary: Summary) -> list[tuple[str, int]]:
    return [(name, summary.outcomes[name]) for name in OUTCOMES if name in summary.outcomes]


def write_report(
    out_dir: Path,
    info: RunInfo,
    samples: Samples,
    metrics: list[tuple[str, float]],
    extra: dict[str, Any] | None = None,
) -> Summary:
    """Write report.md, summary.json and the charts into `out_dir`; returns the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = Summary.of(samples)
    (out_dir / "report.md").write_text(render(info, summary, metrics))
    arrays = {name: getattr(samples, name) for name in SAMPLE_ARRAYS}
    np.savez_compressed(out_dir / "samples.npz", **arrays)
    record = {"title": info.title, "settings": info.settings, **summary.as_dict(), **(extra or {})}
    (out_dir / "summary.json").write_text(json.dumps(record, indent=2, default=float) + "\n")
    chart_latency_over_time(samples, out_dir / "latency_over_time.png", info.spans)
    chart_histogram(samples, summary, out_dir / "latency_histogram.png")
    return summary


def chart_latency_over_time(samples: Samples, path: Path, spans: Sequence[Span] = ()) -> None:
    """Each request's latency at its intended time, errors in red, and p50/p99 per second."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.5), layout="constrained")
    axes = figure.subplots()
    latency_ms = np.maximum(samples.latency * 1000, 1e-3)
    errors = samples.errors()
    degraded = samples.outcome == OUTCOMES.index("degraded")
    normal = ~errors & ~degraded
    axes.scatter(samples.intended[normal], latency_ms[normal], s=2, alpha=0.3, label="answered")
    axes.scatter(
        samples.intended[degraded], latency_ms[degraded], s=3, c="orange", label="degraded"
    )
    axes.scatter(samples.intended[errors], latency_ms[errors], s=6, c="red", label="error")
    seconds, p50, p99 = per_second_percentiles(samples)
    axes.plot(seconds, p50, c="black", lw=1, label="p50 per second")
    axes.plot(seconds, p99, c="purple", lw=1, label="p99 per second")
    for start, end, label in spans:
        axes.axvspan(start, end, color="grey", alpha=0.2, label=label)
    axes.set_yscale("log")
    axes.set_xlabel("intended send time (s from start)")
    axes.set_ylabel("latency (ms, log)")
    axes.legend(loc="upper right", fontsize="small", markerscale=3)
    figure.savefig(path, dpi=110)


def per_second_percentiles(samples: Samples) -> tuple[Any, Any, Any]:
    """Whole seconds of the run, with the p50 and p99 latency (ms) of requests due in each."""
    if len(samples) == 0:
        return np.array([]), np.array([]), np.array([])
    second = samples.intended.astype(np.int64)
    seconds = np.unique(second)
    p50, p99 = (
        np.array([np.percentile(samples.latency[second == s], q) * 1000 for s in seconds])
        for q in (50, 99)
    )
    return seconds + 0.5, p50, p99


def chart_histogram(samples: Samples, summary: Summary, path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), layout="constrained")
    axes = figure.subplots()
    latency_ms = samples.latency[samples.status != 0] * 1000
    if len(latency_ms):
        low, high = max(latency_ms.min(), 0.05), max(latency_ms.max(), 0.1)
        bins = np.geomspace(low, high * 1.01, 80)
        axes.hist(latency_ms, bins=bins.tolist())
        for name in ("p50", "p99", "p99.9"):
            value = summary.latency_ms[name]
            axes.axvline(value, ls="--", c="black", lw=0.8)
            axes.annotate(name, (value, 0.95), xycoords=("data", "axes fraction"), fontsize=8)
        axes.set_xscale("log")
    axes.set_xlabel("latency from intended send time (ms, log)")
    axes.set_ylabel("requests")
    figure.savefig(path, dpi=110)
