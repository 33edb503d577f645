"""The server-side script of the online store, with its configuration generated from the
features file (through the state plan of `feature_store.aggregates`), so that windows, label
rings and seen sets are stated once."""

from __future__ import annotations

import hashlib
from importlib import resources

from feature_store.aggregates import (
    DAY_MS,
    LABEL_MATURITY_DAYS,
    PLANS,
    PREVIOUS_WINDOW,
    WINDOWS,
    EntityPlan,
)
from feature_store.windows import PREVIOUS_KEPT, Window


def _ring(window: Window) -> str:
    return f"{{{window.bucket_ms}, {window.bucket_count}, {window.kept_buckets}}}"


def _kind(plan: EntityPlan) -> str:
    parts = ["w = {" + ", ".join(f"'{w.name}'" for w in plan.windows) + "}"]
    if plan.previous:
        parts.append(f"prev = {_ring(PREVIOUS_WINDOW)}")
    if plan.known_window is not None:
        parts.append(f"label = {_ring(plan.known_window)}")
    if plan.matured_days:
        days = ", ".join(str(d) for d in plan.matured_days)
        parts.append(f"matured = {{{plan.matured_kept}, {LABEL_MATURITY_DAYS}, {{{days}}}}}")
    # A seen set's window, and the name of the entity ring it takes its floor from.
    seen = ", ".join(
        f"{{{s.window.bucket_ms}, {s.window.bucket_count}, '{s.window.name}'}}"
        for s in plan.seen_sets
    )
    parts.append(f"seen = {{{seen}}}")
    return f"  {plan.entity.name} = {{{', '.join(parts)}}},"


def _header() -> str:
    windows = ", ".join(f"['{w.name}'] = {_ring(w)}" for w in WINDOWS)
    kinds = "\n".join(_kind(plan) for plan in PLANS.values())
    return (
        "-- Generated from feature_store/features.yaml by feature_store/script.py.\n"
        f"local WINDOWS = {{{windows}}}\n"
        f"local DAY_MS = {DAY_MS}\n"
        f"local PREVIOUS_KEPT = {PREVIOUS_KEPT}\n"
        f"local KINDS = {{\n{kinds}\n}}\n\n"
    )


ENTITY_SCRIPT = _header() + resources.files(__package__).joinpath("entity.lua").read_text()
ENTITY_SCRIPT_SHA = hashlib.sha1(ENTITY_SCRIPT.encode()).hexdigest()
