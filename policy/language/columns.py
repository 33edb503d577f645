"""What rules read in a backtest: a history's values as whole columns, each read once.

`backtest.evaluation` builds a `Columns` over a replay; `columnwise` reads fields from it.
Numbers are float64 arrays with NaN for missing. Text is factorised once per column: integer
codes (-1 for missing, as are empty and NaN values) into a small vocabulary, so comparisons,
sets, `lower()` and list lookups work on the vocabulary and cost one integer gather per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from policy.language.fields import Field, Origin, Type
from policy.language.values import NO_LISTS
from policy.lists.kinds import ListLookup

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Text:
    """A text column: `codes` index `vocabulary`; -1 is missing."""

    codes: Ints
    vocabulary: npt.NDArray[np.object_]

    def where(self, vocabulary_mask: Bools) -> Bools:
        """Rows whose value satisfies `vocabulary_mask`; a missing value never does."""
        return np.append(vocabulary_mask, False)[self.codes]


Value = Floats | Bools | Text


class Columns:
    """What expressions read, as columns: raw history attributes, features and scores.

    columns = Columns(history, features, scores, static_lists=policy.static_lists)
    matched = evaluate(rule.condition, columns)
    """

    def __init__(
        self,
        attributes: pd.DataFrame,
        features: pd.DataFrame,
        scores: Floats,
        *,
        static_lists: ListLookup = NO_LISTS,
        lists: ListLookup = NO_LISTS,
        degraded: bool = False,
    ) -> None:
        self.rows = len(attributes)
        self.attributes = attributes
        self.features = features
        self.scores = np.asarray(scores, dtype=np.float64)
        self.static_lists = static_lists
        self.lists = lists
        self.degraded = degraded
        self._cache: dict[str, Value] = {}

    def with_lists(self, static_lists: ListLookup) -> Columns:
        """The same columns (and factorised text) read with another policy's inline lists."""
        other = Columns(
            self.attributes,
            self.features,
            self.scores,
            static_lists=static_lists,
            lists=self.lists,
            degraded=self.degraded,
        )
        other._cache = self._cache
        return other

    def field(self, field: Field) -> Value:
        if field.name not in self._cache:
            self._cache[field.name] = self._read(field)
        return self._cache[field.name]

    def listed(self, list_name: str, value: str) -> bool:
        return self.static_lists.contains(list_name, value) or self.lists.contains(list_name, value)

    def _read(self, field: Field) -> Value:
        if field.origin is Origin.FEATURE:
            return self.features[field.key].to_numpy(dtype=np.float64)
        if field.origin is Origin.SCORE:
            return self.scores
        if field.origin is Origin.DEGRADED:
            return np.full(self.rows, self.degraded)
        values = self.attributes[field.key]
        if field.type is Type.NUMBER:
            return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        return _factorise(values.to_numpy(dtype=object))


def _factorise(values: npt.NDArray[np.object_]) -> Text:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    vocabulary = np.array([str(u) for u in uniques], dtype=object)
    codes = codes.astype(np.int64)
    empty = np.flatnonzero(vocabulary == "")
    if empty.size:  # an empty text is missing, as on the score path
        codes[np.isin(codes, empty)] = -1
    return Text(codes, vocabulary)
