"""The server-side script of the online store, with its configuration generated from the
feature definitions, so that windows and seen sets are stated once (in `aggregates`)."""

from __future__ import annotations

import hashlib
from importlib import resources

from feature_store.aggregates import (
    ENTITIES,
    LABEL_ENTITIES,
    LABEL_WINDOW,
    PREVIOUS_ENTITIES,
    PREVIOUS_WINDOW,
    SEEN_SETS,
    Entity,
)
from feature_store.windows import PREVIOUS_KEPT, WINDOWS, Window


def _pair(window: Window) -> str:
    return f"{{{window.bucket_ms}, {window.bucket_count}, {window.kept_buckets}}}"


def _seen(window: Window) -> str:
    """A seen set's window, with the position of the entity ring it takes its floor from."""
    return f"{{{window.bucket_ms}, {window.bucket_count}, {WINDOWS.index(window) + 1}}}"


def _kind(entity: Entity) -> str:
    parts = []
    if entity in PREVIOUS_ENTITIES:
        parts.append(f"prev = {_pair(PREVIOUS_WINDOW)}")
    if entity in LABEL_ENTITIES:
        parts.append("label = true")
    seen = ", ".join(_seen(s.window) for s in SEEN_SETS if s.entity == entity)
    parts.append(f"seen = {{{seen}}}")
    return f"  {entity.name} = {{{', '.join(parts)}}},"


def _header() -> str:
    windows = ", ".join(_pair(w) for w in WINDOWS)
    kinds = "\n".join(_kind(entity) for entity in ENTITIES)
    return (
        "-- Generated from feature_store/aggregates.py by feature_store/script.py.\n"
        f"local WINDOWS = {{{windows}}}\n"
        f"local LABEL = {_pair(LABEL_WINDOW)}\n"
        f"local PREVIOUS_KEPT = {PREVIOUS_KEPT}\n"
        f"local KINDS = {{\n{kinds}\n}}\n\n"
    )


ENTITY_SCRIPT = _header() + resources.files(__package__).joinpath("entity.lua").read_text()
ENTITY_SCRIPT_SHA = hashlib.sha1(ENTITY_SCRIPT.encode()).hexdigest()
