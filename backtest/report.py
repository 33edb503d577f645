"""Rendering of backtests and rule health: printed tables, a markdown report and a chart.

`backtest.evaluation` results -> text tables (printed and in markdown) -> files in an output
folder. Numbers are defined in docs/policy-backtest.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from backtest.evaluation import Backtest
from backtest.statistics import DECISIONS, PolicySummary, RuleStats

BACKTEST_MARKDOWN = "backtest.md"
BACKTEST_CHART = "backtest.png"
HEALTH_MARKDOWN = "rule-health.md"

Metric = tuple[str, Callable[[PolicySummary], str]]
METRICS: tuple[Metric, ...] = (
    *((f"{d.value} rate", lambda s, d=d: f"{s.rate(d):.2%} ({s.counts[d]:,})") for d in DECISIONS),
    ("fraud caught (decline or challenge)", lambda s: f"{s.caught:,} of {s.frauds:,}"),
    ("fraud caught rate", lambda s: f"{s.caught_rate:.2%}"),
    ("fraud caught, USD", lambda s: f"{s.caught_usd:,.2f} of {s.fraud_usd:,.2f}"),
    ("fraud sent to review", lambda s: f"{s.reviewed_frauds:,}"),
    ("false declines (legit declined)", lambda s: f"{s.false_declines:,}"),
    ("false decline rate", lambda s: f"{s.false_decline_rate:.3%}"),
)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table, padded so that it also reads well when printed."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def summary_table(result: Backtest) -> str:
    """Each metric of the new policy, beside the baseline's when there is one."""
    summaries = [s for s in (result.baseline, result.new) if s is not None]
    header = ["", *(_name(s, result) for s in summaries)]
    rows = [[label, *(render(s) for s in summaries)] for label, render in METRICS]
    return table(header, rows)


def _name(summary: PolicySummary, result: Backtest) -> str:
    role = "new" if summary is result.new else "baseline"
    return f"{role}: {Path(summary.source).name} ({summary.version})"


def rules_table(rules: Sequence[RuleStats]) -> str:
    header = ["rule", "action", "mode", "matches", "frauds", "precision", "fraud USD"]
    header += ["unique catches", "unique USD", "flags"]
    rows = [
        [
            r.rule_id,
            r.action,
            r.mode,
            f"{r.matches:,}",
            f"{r.frauds:,}",
            "-" if r.precision is None else f"{r.precision:.1%}",
            f"{r.fraud_usd:,.2f}",
            f"{r.unique_catches:,}",
            f"{r.unique_usd:,.2f}",
            "; ".join(r.flags),
        ]
        for r in rules
    ]
    return table(header, rows)


def printed_summary(result: Backtest) -> str:
    """What `riskscore policy backtest` prints."""
    lines = [summary_table(result)]
    if result.baseline is not None:
        lines.append(f"\n{result.changed:,} of {result.new.transactions:,} decisions change.")
    return "\n".join(lines) + "\n"


def backtest_markdown(result: Backtest, chart: str | None) -> str:
    parts = ["# Policy backtest", "", summary_table(result), ""]
    if chart:
        parts += [f"![decision rates and rules]({chart})", ""]
    parts += [
        f"## Rules of the new policy ({result.new.source})",
        "",
        rules_table(result.new.rules),
    ]
    if result.baseline is not None:
        parts += ["", f"## Rules of the baseline ({result.baseline.source})", ""]
        parts += [rules_table(result.baseline.rules), "", "## Decision changes", ""]
        parts += [f"{result.changed:,} transactions change decision. Baseline (rows) by new:", ""]
        transitions = result.transitions
        rows = [
            [str(i), *(f"{v:,}" for v in row)]
            for i, row in zip(transitions.index, transitions.to_numpy().tolist(), strict=True)
        ]
        parts += [table(["baseline \\ new", *map(str, transitions.columns)], rows), ""]
        if len(result.sample):
            parts += [f"A sample of {len(result.sample)} changed transactions:", ""]
            sample = result.sample.astype(str)
            parts.append(table(list(sample.columns), sample.to_numpy().tolist()))
    return "\n".join(parts) + "\n"


def write_backtest(result: Backtest, out: Path) -> list[Path]:
    """The markdown report and its chart in `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    chart = out / BACKTEST_CHART
    draw_chart(result, chart)
    markdown = out / BACKTEST_MARKDOWN
    markdown.write_text(backtest_markdown(result, chart.name))
    return [markdown, chart]


def draw_chart(result: Backtest, path: Path) -> None:
    """Decision rates side by side, and each new rule's matches with its precision."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = [s for s in (result.baseline, result.new) if s is not None]
    rules = result.new.rules
    figure, (rates, per_rule) = plt.subplots(
        1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 2]}
    )
    width = 0.8 / len(summaries)
    for i, summary in enumerate(summaries):
        label = "new" if summary is result.new else "baseline"
        offsets = [k + i * width for k in range(len(DECISIONS))]
        rates.bar(offsets, [summary.rate(d) * 100 for d in DECISIONS], width, label=label)
    rates.set_xticks([k + width * (len(summaries) - 1) / 2 for k in range(len(DECISIONS))])
    rates.set_xticklabels([d.value for d in DECISIONS])
    rates.set_yscale("log")  # approvals dwarf the rest on a linear scale
    rates.set_ylabel("% of transactions (log scale)")
    rates.set_title("Decision rates")
    rates.legend()
    positions = list(range(len(rules)))
    per_rule.bar(positions, [r.matches for r in rules], color="tab:gray")
    per_rule.set_ylabel("matches")
    per_rule.set_xticks(positions)
    per_rule.set_xticklabels([r.rule_id for r in rules], rotation=60, ha="right", fontsize=7)
    precision = per_rule.twinx()
    precision.plot(positions, [(r.precision or 0.0) * 100 for r in rules], "o", color="tab:red")
    precision.set_ylabel("precision % (red)")
    precision.set_ylim(0, 100)
    per_rule.set_title("Rules of the new policy: matches and precision")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def health_markdown(summary: PolicySummary, promote_precision: float) -> str:
    return "\n".join(
        [
            f"# Rule health: {summary.source} ({summary.version})",
            "",
            f"{summary.transactions:,} transactions, {summary.frauds:,} frauds "
            f"(USD {summary.fraud_usd:,.2f}). A shadow rule is ready to promote at precision "
            f">= {promote_precision:.0%} with at least one unique catch.",
            "",
            rules_table(summary.rules),
            "",
        ]
    )


def write_health(summary: PolicySummary, out: Path, promote_precision: float) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / HEALTH_MARKDOWN
    path.write_text(health_markdown(summary, promote_precision))
    return path
