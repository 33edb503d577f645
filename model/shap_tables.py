"""The tables exact TreeSHAP reads, built from the trees when the model loads.

XGBoost's trees (`Tree`) -> each internal node's part in the per-row pass (`NodePass`: its
split, which slot of the path it decides, where its children are) -> the leaves grouped by
small subtree, and for every state a row can put a group in, the summed Shapley values of
its leaves (`GroupTables`). `model.treeshap` reads them per transaction.

A leaf's path-dependent Shapley values depend on the row only through which of the d
distinct features of its path the row follows (the GPUTreeShap decomposition). A group is a
node with at most `GROUP_NODES` internal nodes below and including it, and all their leaves:
its state is which of the features above it the row follows (the pass's bits) and which way
the row goes at each of its own internal nodes, so one table row holds all its leaves' values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

GROUP_NODES = 3  # internal nodes of a group: a node and its two children (model.treeshap reads 3)
GROUP_BITS = 10  # at most 2**10 rows per group; beyond that its children make groups


@dataclass(frozen=True)
class Tree:
    """One tree of XGBoost's JSON model; lists indexed by node id."""

    left: list[int]
    right: list[int]
    feature: list[int]
    condition: list[float]  # the threshold of a split, the value of a leaf
    default_left: list[int]
    cover: list[float]  # sum of hessians

    @classmethod
    def from_json(cls, tree: dict[str, Any]) -> Tree:
        if any(tree.get("split_type", ())):
            raise ValueError("categorical splits cannot be attributed")
        return cls(
            tree["left_children"],
            tree["right_children"],
            tree["split_indices"],
            tree["split_conditions"],
            tree["default_left"],
            tree["sum_hessian"],
        )

    def is_leaf(self, node: int) -> bool:
        return bool(self.left[node] == -1)


@dataclass(frozen=True)
class NodePass:
    """Every internal node of every tree: first the `above` nodes that no group holds,
    parents before children (breadth first), then the groups' own.

    Per row, `followed[n]` (n a node's index among all nodes, leaves too) holds a bit per slot
    (distinct feature of the path to node n, in the order first split on): set when the row
    follows the path there. At internal node i, the row goes left when `x[feature] <
    threshold` (float32, as XGBoost compares), or x is missing and `default_left`. An above
    node passes `base = followed[node] | new_bit` to the child the row goes to and `base`
    without its slot's bit to the other (children are `child` and `child + 1`); a group's
    node sets bit `shift` of the group's state when the row goes left.

    Packed so that the pass reads three arrays: `meta` is feature | slot << 16 | new << 21 |
    default_left << 22 | shift << 23 (`pack_meta`), `links` node | child << 32.
    """

    threshold: npt.NDArray[np.float32]
    meta: npt.NDArray[np.uint32]
    links: npt.NDArray[np.uint64]
    above: int
    nodes: int  # all nodes, leaves too: the length of `followed`


def pack_meta(feature: int, slot: int, new: bool, default_left: bool, shift: int) -> int:
    """`NodePass.meta` of one node."""
    if not (0 <= feature < 1 << 16 and 0 <= slot < 32 and 0 <= shift < 32):
        raise ValueError(f"a split on feature {feature} at slot {slot}: beyond the tables' range")
    return feature | slot << 16 | int(new) << 21 | int(default_left) << 22 | shift << 23


@dataclass(frozen=True)
class GroupTables:
    """Each group's state is `followed[root]` ORed with `went` of its `inner` internal nodes
    (index `sentinel` adds nothing); its values are `table[offset + state * slots :]`, the
    first `slots` of them for the features `feature[g]` (padded with `features`, a slot that
    collects what padded reads pick up)."""

    root: npt.NDArray[np.uint32]  # (groups,)
    inner: npt.NDArray[np.uint32]  # (groups, GROUP_NODES)
    offset: npt.NDArray[np.uint32]
    slots: npt.NDArray[np.uint32]
    feature: npt.NDArray[np.uint16]  # (groups, width)
    table: npt.NDArray[np.float32]  # flat, in group order, `width` zeros at the end
    expected: float  # the trees' expected value: their part of the bias


@dataclass
class _Leaf:
    features: list[int]  # distinct, in slot order
    zero: list[float]  # the share of training cover that went the path's way on each
    value: float
    turns: tuple[tuple[int, int, bool], ...]  # (position in its group, feature, left)


@dataclass
class _Group:
    root: int  # the node's index in `followed`
    prefix: int  # slots above the root: the low bits of the state
    inner: list[int]  # its internal nodes' indexes in the pass
    columns: list[int]  # features: the slots above the root, then its own new ones
    leaves: list[_Leaf]


# One internal node of the pass: threshold, meta, links.
_PassRow = tuple[float, int, int]
# A node on the walk down: its id, the slots above it, their zero fractions, its group and
# the turns taken below the group's root.
_Step = tuple[int, tuple[int, ...], dict[int, float], "_Group | None", tuple[Any, ...]]


def layout(trees: list[Tree]) -> tuple[NodePass, list[_Group]]:
    """The pass over the trees' internal nodes and their leaves grouped by small subtree."""
    into = _Layout([], [], [])
    for tree in trees:
        into.add(tree)
    rows = into.above + into.inner
    for group in into.groups:  # after the above nodes
        group.inner = [len(into.above) + i for i in group.inner]
    threshold, meta, links = zip(*rows, strict=True) if rows else ((), (), ())
    nodes = NodePass(
        threshold=np.array(threshold, dtype=np.float32),
        meta=np.array(meta, dtype=np.uint32),
        links=np.array(links, dtype=np.uint64),
        above=len(into.above),
        nodes=into.nodes,
    )
    return nodes, into.groups


@dataclass
class _Layout:
    above: list[_PassRow]  # internal nodes in no group, breadth first
    inner: list[_PassRow]  # the groups' internal nodes
    groups: list[_Group]
    nodes: int = 0

    def add(self, tree: Tree) -> None:
        """One tree: its nodes numbered breadth first, walked depth first into pass rows and
        groups (a group starts at the first node small enough)."""
        order = _breadth_first(tree)
        self.ids = {node: self.nodes + i for i, node in enumerate(order)}
        counts = _inner_counts(tree)
        above: dict[int, _PassRow] = {}
        stack: list[_Step] = [(0, (), {}, None, ())]
        while stack:
            node, slots, zero, group, turns = stack.pop()
            bits = len(slots) + counts[node]
            if group is None and counts[node] <= GROUP_NODES and bits <= GROUP_BITS:
                group, turns = _Group(self.ids[node], len(slots), [], list(slots), []), ()
                self.groups.append(group)
            if tree.is_leaf(node):
                assert group is not None  # a leaf's count is 0: it is in a group
                leaf = _Leaf(list(slots), [zero[f] for f in slots], tree.condition[node], turns)
                group.leaves.append(leaf)
                continue
            position = self._split(tree, node, slots, group, above)
            split = int(tree.feature[node])
            below = slots if split in slots else (*slots, split)
            for child, left in ((tree.right[node], False), (tree.left[node], True)):
                share = float(tree.cover[child]) / float(tree.cover[node])
                shares = {**zero, split: zero.get(split, 1.0) * share}
                stack.append((child, below, shares, group, (*turns, (position, split, left))))
        self.above += [above[node] for node in order if node in above]
        self.nodes += len(order)

    def _split(
        self,
        tree: Tree,
        node: int,
        slots: tuple[int, ...],
        group: _Group | None,
        above: dict[int, _PassRow],
    ) -> int:
        """An internal node's pass row (into `above`, or the group's); its position in its
        group (0 if none)."""
        split = int(tree.feature[node])
        new = split not in slots
        slot = len(slots) if new else slots.index(split)
        threshold = float(np.float32(tree.condition[node]))  # XGBoost compares in float32
        default = bool(tree.default_left[node])
        if group is None:
            links = self.ids[node] | self.ids[tree.left[node]] << 32
            above[node] = (threshold, pack_meta(split, slot, new, default, 0), links)
            return 0
        position = len(group.inner)
        meta = pack_meta(split, slot, new, default, group.prefix + position)
        group.inner.append(len(self.inner))
        self.inner.append((threshold, meta, 0))
        if split not in group.columns:
            group.columns.append(split)
        return position


def _breadth_first(tree: Tree) -> list[int]:
    """The tree's node ids, breadth first: a node's two children next to each other."""
    order = [0]
    for node in order:  # grows while read
        if not tree.is_leaf(node):
            order += [tree.left[node], tree.right[node]]
    return order


def _inner_counts(tree: Tree) -> dict[int, int]:
    """Internal nodes in each node's subtree, itself included."""
    count: dict[int, int] = {}
    for node in reversed(_breadth_first(tree)):  # children before parents
        leaf = tree.is_leaf(node)
        count[node] = 0 if leaf else 1 + count[tree.left[node]] + count[tree.right[node]]
    return count


def group_tables(groups: list[_Group], features: int, sentinel: int) -> GroupTables:
    """Every group's table: for each state, its leaves' Shapley values summed by feature."""
    expected = sum(leaf.value * math.prod(leaf.zero) for g in groups for leaf in g.leaves)
    groups = [group for group in groups if group.columns]  # a tree that is one leaf: a bias
    values = _leaf_values([leaf for group in groups for leaf in group.leaves])
    width = max([len(group.columns) for group in groups] + [1])
    sizes = [(1 << (g.prefix + len(g.inner))) * len(g.columns) for g in groups]
    offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    table = np.zeros(sum(sizes) + width, dtype=np.float64)  # padded reads stay inside
    inner = np.full((len(groups), GROUP_NODES), sentinel, dtype=np.uint32)
    feature = np.full((len(groups), width), features, dtype=np.uint16)
    for g, group in enumerate(groups):
        table[offset[g] : offset[g] + sizes[g]] = _group_values(group, values).ravel()
        inner[g, : len(group.inner)] = group.inner
        feature[g, : len(group.columns)] = group.columns
    if table.size >= 1 << 32:
        raise ValueError(f"the trees' tables would hold {table.size} values, too many")
    return GroupTables(
        root=np.array([group.root for group in groups], dtype=np.uint32),
        inner=inner,
        offset=offset.astype(np.uint32),
        slots=np.array([len(group.columns) for group in groups], dtype=np.uint32),
        feature=feature,
        table=table.astype(np.float32),  # float32 halves what a row reads from memory
        expected=float(expected),
    )


def _group_values(group: _Group, values: dict[int, Floats]) -> Floats:
    """(states, columns): the group's leaves' values for each state, by column."""
    bits = group.prefix + len(group.inner)
    states = np.arange(1 << bits, dtype=np.int64)
    above, went = states & ((1 << group.prefix) - 1), states >> group.prefix
    result = np.zeros((1 << bits, len(group.columns)), dtype=np.float64)
    for leaf in group.leaves:
        mask = np.zeros(states.shape, dtype=np.int64)
        for j, feature in enumerate(leaf.features):
            follows = (above >> j) & 1 if j < group.prefix else np.ones_like(states)
            for position, split, left in leaf.turns:
                if split == feature:
                    follows &= ((went >> position) & 1) == left
            mask |= follows << j
        columns = [group.columns.index(feature) for feature in leaf.features]
        result[:, columns] += values[id(leaf)][mask]
    return result


def _leaf_values(leaves: list[_Leaf]) -> dict[int, Floats]:
    """Each leaf's (2**d, d) Shapley values by mask of followed slots, keyed by `id`."""
    found: dict[int, Floats] = {}
    for d in sorted({len(leaf.features) for leaf in leaves} - {0}):
        members = [leaf for leaf in leaves if len(leaf.features) == d]
        zero = np.array([leaf.zero for leaf in members], dtype=np.float64)
        value = np.array([leaf.value for leaf in members], dtype=np.float64)
        for leaf, values in zip(members, _path_values(zero, value), strict=True):
            found[id(leaf)] = values
    return found


def _path_values(zero: Floats, value: Floats) -> Floats:
    """Shapley values of each path's game for every mask of followed slots: (paths, 2**d, d).

    A path's game is f(S) = v prod_{j in S} o_j prod_{j not in S} z_j (v its leaf value, o_j
    1 when the row follows the path on feature j, z_j the share of cover that went its way):
    phi_i = v (o_i - z_i) sum over S within F - {i} of |S|! (d - |S| - 1)! / d!
    prod_{j in S} o_j prod_{j in F - {i} - S} z_j, with o_j bit j of the mask.
    """
    n, d = zero.shape
    masks = np.arange(1 << d)
    follows = ((masks[:, None] >> np.arange(d)[None, :]) & 1).astype(np.float64)  # (2**d, d)
    result = np.zeros((n, 1 << d, d), dtype=np.float64)
    for i in range(d):
        others = [j for j in range(d) if j != i]
        total = np.zeros((n, 1 << d), dtype=np.float64)
        for size in range(len(others) + 1):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for chosen in combinations(others, size):
                rest = [j for j in others if j not in chosen]
                ones = np.prod(follows[:, list(chosen)], axis=1)  # (2**d,)
                zeros = np.prod(zero[:, rest], axis=1)  # (n,)
                total += weight * zeros[:, None] * ones[None, :]
        result[:, :, i] = value[:, None] * (follows[None, :, i] - zero[:, i, None]) * total
    return result
