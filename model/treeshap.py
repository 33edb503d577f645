"""Exact TreeSHAP of one transaction, compiled for the ensemble when the model loads.

`model.json` (XGBoost's trees) -> the tables of `model.shap_tables`, built once -> per
transaction, a loop compiled by numba: one pass over the trees' internal nodes (which way the
row goes, which of each path's features it follows), one table row per group of leaves, summed
by feature. Values equal XGBoost's `pred_contribs=True` (path-dependent TreeSHAP) up to
float32 rounding of the table.

Why it is exact: path-dependent TreeSHAP is additive over a tree's leaves, and a leaf's values
depend on the row only through which of the d distinct features of its path the row follows,
so a table over those cases holds every one (the GPUTreeShap decomposition); a group's table
sums its leaves' for each way the row can go through it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from model.errors import ModelArtifactError
from model.shap_tables import GroupTables, NodePass, Tree, group_tables, layout

Floats = npt.NDArray[np.float64]
Row = npt.NDArray[np.float32]


def _kernel_source(
    row: Row,
    threshold: npt.NDArray[np.float32],
    meta: npt.NDArray[np.uint32],
    links: npt.NDArray[np.uint64],
    above: int,
    nodes: int,
    root: npt.NDArray[np.uint32],
    inner: npt.NDArray[np.uint32],
    offset: npt.NDArray[np.uint32],
    slots: npt.NDArray[np.uint32],
    group_feature: npt.NDArray[np.uint16],
    table: npt.NDArray[np.float32],
    out: Floats,
) -> None:
    """Each feature's value for `row` into `out`, rounded to float32 (compiled by numba;
    plain Python works too). The arrays are `NodePass`'s and `GroupTables`'.

    Unsigned indexes: numba adds no wraparound of negative ones. No branch depends on the row.
    """
    one, low16 = np.int32(1), np.uint32(0xFFFF)
    followed = np.zeros(nodes, dtype=np.int32)
    for i in range(above):  # which features of the path to each node the row follows
        m = meta[i]
        x = row[m & low16]
        left = np.int32((x < threshold[i]) | ((x != x) & (m & np.uint32(1 << 22) != 0)))
        bit = one << np.int32((m >> np.uint32(16)) & np.uint32(31))
        base = followed[np.uint32(links[i] & np.uint64(0xFFFFFFFF))]
        base |= bit * np.int32((m >> np.uint32(21)) & np.uint32(1))
        child = np.uint32(links[i] >> np.uint64(32))
        followed[child] = base & ~(bit & (left - one))  # cleared going right
        followed[child + np.uint32(1)] = base & ~(bit & -left)
    went = np.zeros(meta.shape[0] + 1, dtype=np.int32)  # the last: the sentinel, 0
    for i in range(above, meta.shape[0]):  # which way the row goes at the groups' nodes
        m = meta[i]
        x = row[m & low16]
        left = np.int32((x < threshold[i]) | ((x != x) & (m & np.uint32(1 << 22) != 0)))
        went[i] = left << np.int32(m >> np.uint32(23))
    # The starts first, each row's first and last value prefetched: the processor fetches
    # them all at once, where the adds below would wait for each (a row may span two lines).
    groups = root.shape[0]
    start = np.empty(groups, dtype=np.uint32)
    for g in range(groups):
        state = followed[root[g]] | went[inner[g, 0]] | went[inner[g, 1]] | went[inner[g, 2]]
        start[g] = offset[g] + np.uint32(state) * slots[g]
        _prefetch(table, start[g])
        _prefetch(table, start[g] + slots[g] - np.uint32(1))
    # Consecutive groups share features: four accumulators keep their adds from waiting on
    # each other. Every read takes the full width; padded slots add to the last feature.
    sums = np.zeros((4, out.shape[0] + 1), dtype=np.float64)
    for g in range(groups):
        lane = g & 3
        for j in range(group_feature.shape[1]):
            sums[lane, group_feature[g, j]] += table[start[g] + np.uint32(j)]
    for i in range(out.shape[0]):  # to float32, the precision of the table
        out[i] = np.float32(sums[0, i] + sums[1, i] + sums[2, i] + sums[3, i])


def _prefetch(array: npt.NDArray[Any], index: Any) -> None:
    """Hint that `array[index]` is read soon: nothing in Python; compiled, LLVM's prefetch
    into every cache level (`_compile_prefetch`)."""


_Kernel = Callable[..., None]
_compiled: _Kernel | None = None


def _kernel() -> _Kernel:
    """The kernel compiled on first use (about a second; once per process)."""
    global _compiled
    if _compiled is None:
        import numba  # lazily: importing it costs 0.3 s, compiling more

        _compile_prefetch()
        _compiled = cast(_Kernel, numba.njit(nogil=True, cache=False)(_kernel_source))
    return _compiled


def _compile_prefetch() -> None:
    """What `_prefetch` compiles to: `llvm.prefetch` (read, keep in all levels, data) of the
    element's address. The bare name: LLVM's parser gives it the pointer type's suffix."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic, overload

    @intrinsic
    def prefetch(context: Any, array: Any, index: Any) -> Any:
        def generate(codegen: Any, builder: Any, signature: Any, arguments: Any) -> Any:
            kind = signature.args[0]
            view = codegen.make_array(kind)(codegen, builder, arguments[0])
            at = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
                codegen, builder, kind, view, [arguments[1]], wraparound=False
            )
            byte = ir.IntType(8).as_pointer()
            word = ir.IntType(32)
            declared = ir.FunctionType(ir.VoidType(), [byte, word, word, word])
            module = builder.module
            function = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
                module, declared, "llvm.prefetch"
            )
            flags = [ir.Constant(word, value) for value in (0, 3, 1)]
            builder.call(function, [builder.bitcast(at, byte), *flags])
            return codegen.get_dummy_value()

        return types.void(array, index), generate

    @overload(_prefetch)
    def compiled(array: Any, index: Any) -> Any:
        def call(array: Any, index: Any) -> None:  # the same parameters, as numba checks
            prefetch(array, index)  # type: ignore[call-arg]

        return call


@dataclass(frozen=True)
class TreeShap:
    """Exact TreeSHAP of an XGBoost binary classifier's margin. Build it with `from_xgboost`.

    >>> shap = TreeShap.from_xgboost(path, path.read_bytes(), features=121, trees=171)
    >>> contributions = shap.contributions(row)  # bias + contributions.sum() == margin
    """

    features: int
    bias: float  # base margin + the trees' expected value
    nodes: NodePass
    groups: GroupTables

    @classmethod
    def from_xgboost(cls, path: Path, content: bytes, features: int, trees: int) -> TreeShap:
        """Tables for the first `trees` trees of the XGBoost JSON model `content` (read from
        `path`, named in messages). Raises `ModelArtifactError` naming the file and field when
        it is not a binary logistic gbtree over `features` features with `trees` trees."""
        try:
            learner = json.loads(content)["learner"]
            found, base_margin = _read_learner(path, learner, features)
            if len(found) < trees:
                raise ModelArtifactError(
                    f"{path}: field 'learner.gradient_booster.model.trees' holds {len(found)} "
                    f"trees; the manifest's best_iteration needs {trees}"
                )
            forest = [Tree.from_json(tree) for tree in found[:trees]]
            splits = [f for t in forest for n, f in enumerate(t.feature) if not t.is_leaf(n)]
            if splits and not 0 <= min(splits) <= max(splits) < features:
                raise ModelArtifactError(f"{path}: a tree splits on a feature beyond {features}")
            nodes, groups = layout(forest)
            tables = group_tables(groups, features, sentinel=len(nodes.meta))
        except (KeyError, IndexError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise ModelArtifactError(f"{path}: not an XGBoost JSON model: {exc!r}") from exc
        return cls(features, base_margin + tables.expected, nodes, tables)

    def contributions(self, row: Row) -> Floats:
        """Each feature's exact TreeSHAP value (log-odds) for one row of `features` float32
        values in manifest order (NaN missing), rounded to float32, the precision of the
        table (the record writes them so, exactly)."""
        out = np.empty(self.features, dtype=np.float64)
        values = np.ascontiguousarray(row, dtype=np.float32).reshape(-1)
        _kernel()(values, *self.arguments, out)
        return out

    @cached_property
    def arguments(self) -> tuple[Any, ...]:
        """The kernel's arguments after the row, in its order (built once)."""
        n, g = self.nodes, self.groups
        return (
            n.threshold,
            n.meta,
            n.links,
            n.above,
            n.nodes,
            g.root,
            g.inner,
            g.offset,
            g.slots,
            g.feature,
            g.table,
        )


def _read_learner(path: Path, learner: dict[str, Any], features: int) -> tuple[Any, float]:
    params = learner["learner_model_param"]
    booster = learner["gradient_booster"]
    found = {
        "learner.objective.name": (learner["objective"]["name"], "binary:logistic"),
        "learner.gradient_booster.name": (booster["name"], "gbtree"),
        "learner.learner_model_param.num_feature": (params["num_feature"], str(features)),
        "learner.learner_model_param.num_target": (params.get("num_target", "1"), "1"),
    }
    for field, (value, wanted) in found.items():
        if value != wanted:
            raise ModelArtifactError(f"{path}: field {field!r} is {value!r}, expected {wanted!r}")
    # "[9.8E-3]" since XGBoost 3, a bare number before; a probability for binary:logistic.
    base_score = float(str(params["base_score"]).strip("[]"))
    return booster["model"]["trees"], math.log(base_score / (1 - base_score))
