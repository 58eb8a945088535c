"""Changes read through different rows at two times.

A table of changes judges what rows shown both times tell. An attacker with two publications
does more: any group of cells whose sum the first publication's rows determine, and the second's
rows determine too, has a change it reads exactly, however different the rows it uses each time.
Take the columns y and z shown in one table, and the total less column x in the next: neither
row was shown twice, yet y + z is read twice. Or a margin shown once, and later carried while
its value is the total less the other margin: the margin's change is read though it never showed
it.

The groups read at one time are the row space of its exactly shown rows (`Spans`); those read at
both are the intersection. The candidates judged are every entry and every part a total hides
under its shown rows, at either time, and the smallest groups of any other shape both times
determine, the 0/1 vectors of that intersection among the cells either leaves undetermined
(`other_groups`): a change of 1 to k - 1 subjects of any of them that both times determine is
exposed, as is a sum no rule judges that moved while fewer than k subjects did. The fix hides
one more row now beside the group (`blame`), and the caller asks again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import qr
from scipy.sparse import csc_matrix, csr_matrix, hstack
from scipy.sparse.csgraph import connected_components

from compliance_assets.privacy.intervals import entry_members
from compliance_assets.privacy.suppression import Lattice, drifted_each, neighbours, small

TOLERANCE = 1e-9
GAP = 1e-8  # eigenvalues of a Gram matrix below this are taken for 0, its rounding error is some 1e-15; a group found is checked
SEARCHED_DIMENSION = 12  # spaces of groups up to this dimension have every 0/1 choice of weights tried at once; larger ones are searched (`_whole_vectors_by_search`)


class Spans:
    """The groups of detailed cells whose sums one publication determines, given per level the
    entries shown with the truth (`known`; levels the attacker knows anyway are known whole). An
    unknown is a hidden entry; each margin entry equals the sum of its cells. A group's sum is
    determined exactly when its hidden cells, as a functional of the unknowns, lie in the row
    space of those equations: orthogonal to their null space, solved per connected component."""

    def __init__(self, lattice: Lattice, known: list[np.ndarray]):
        self.known = known
        hidden = [np.zeros(len(v), dtype=bool) if level in lattice.fixed or level >= len(known) else ~known[level] for level, v in enumerate(lattice.values)]
        offsets = np.cumsum([0, *[int(mask.sum()) for mask in hidden]])
        column = [np.cumsum(mask) - 1 + offsets[level] for level, mask in enumerate(hidden)]  # each hidden entry's unknown
        hidden_cells = np.flatnonzero(hidden[0])
        rows, columns, signs, base = [], [], [], 0
        for level in range(1, len(lattice.levels)):
            entries = np.flatnonzero(hidden[level])
            rows += [base + lattice.cell_entry[level][hidden_cells], base + entries]
            columns += [column[0][hidden_cells], column[level][entries]]
            signs += [-np.ones(len(hidden_cells)), np.ones(len(entries))]
            base += len(lattice.values[level])
        size = int(offsets[-1])
        self.null = csc_matrix((len(lattice.values[0]), 0))  # per hidden cell, its coefficients on the null space's basis
        if not len(hidden_cells):
            return
        system = csr_matrix((np.concatenate(signs), (np.concatenate(rows), np.concatenate(columns))), shape=(base, size))
        system = system[np.diff(system.indptr) > 0]
        _, component = connected_components((system.T @ system) != 0, directed=False)
        of_row = component[system.indices[system.indptr[:-1]]]
        cell_columns = column[0][hidden_cells]
        parts = []
        for key in np.unique(component[cell_columns]):
            members = np.flatnonzero(component == key)
            matrix = system[of_row == key][:, members].toarray()
            at = np.searchsorted(members, cell_columns[component[cell_columns] == key])
            if len(matrix):
                _, singular, vt = np.linalg.svd(matrix)
                null = vt[int((singular > TOLERANCE * max(matrix.shape)).sum()):]
            else:
                null = np.eye(len(members))
            if len(null):
                parts.append((hidden_cells[component[cell_columns] == key], null[:, at]))
        widths = np.cumsum([0, *[len(null) for _, null in parts]])
        cells = np.concatenate([np.repeat(where, len(null)) for where, null in parts]) if parts else np.zeros(0, dtype=np.int64)
        bases = np.concatenate([np.tile(np.arange(len(null)) + widths[i], len(where)) for i, (where, null) in enumerate(parts)]) if parts else np.zeros(0, dtype=np.int64)
        values = np.concatenate([null.T.ravel() for _, null in parts]) if parts else np.zeros(0)
        self.null = csc_matrix((values, (cells, bases)), shape=(len(lattice.values[0]), int(widths[-1])))

    def reads(self, groups: csr_matrix) -> np.ndarray:
        """Per group (a row over the detailed cells, 1 for each cell in it): whether its sum is
        determined."""
        if not self.null.shape[1]:
            return np.ones(groups.shape[0], dtype=bool)
        residual = abs(groups @ self.null)
        return residual.max(axis=1).toarray().ravel() < 1e-7


@dataclass(frozen=True)
class Group:
    """A candidate group: an entry, or the part of a total (`level`, `entry`) that its rows of
    the finer level `fine` shown at one time (`outside`) do not cover. Its change is the entry's
    less those rows': cells that emptied since count in it as they count in the total."""

    level: int
    entry: int
    cells: np.ndarray
    fine: int | None = None
    outside: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def candidate_groups(lattice: Lattice, published: int, knowns: list[list[np.ndarray]]) -> list[Group]:
    """Every published entry, and under every published total the part each time's shown rows
    of a finer level leave (`knowns`: per time, per level, the rows shown with the truth)."""
    every = np.arange(len(lattice.values[0]))
    found, seen = [], set()
    for level in range(published):
        for entry, cells in enumerate(entry_members(lattice.cell_entry[level], len(lattice.values[level]), every)):
            if len(cells) and (level, tuple(cells)) not in seen:
                seen.add((level, tuple(cells)))
                found.append(Group(level, entry, cells))
    for coarse, fine, parents in lattice.pairs:
        if coarse >= published or fine >= published:
            continue
        size = len(lattice.values[coarse])
        for known in knowns:
            hidden = np.flatnonzero(~known[fine][lattice.cell_entry[fine]])
            shown = entry_members(parents[known[fine]], size, np.flatnonzero(known[fine]))
            for entry, cells in enumerate(entry_members(lattice.cell_entry[coarse][hidden], size, hidden)):
                if len(cells) and (coarse, tuple(cells)) not in seen:
                    seen.add((coarse, tuple(cells)))
                    found.append(Group(coarse, entry, cells, fine, shown[entry]))
    return found


def other_groups(lattice: Lattice, then: Spans, now: Spans, seen: set[tuple[int, ...]]) -> list[Group]:
    """The groups of cells both publications determine, other than those `seen` (as cell tuples),
    that hold no smaller group both determine: one cell of each of two rows, say. A group that
    holds one is the sum of two groups both determine, each judged in turn (the change rule holds
    each part, not their sum). Only cells one publication leaves undetermined can be in one (a
    cell both determine is an entry of its own), and each lies within one connected set of them,
    whose groups are the 0/1 vectors of the space both determine there (`_whole_vectors`). A
    group whose change is that of totals the attacker knows anyway (`Lattice.fixed`: other
    tables show them, and judge their changes) less cells both determine is not ours to hold,
    nor can hiding our rows hide it."""
    both = hstack([then.null, now.null], format="csr")
    both.eliminate_zeros()
    open_cells = np.flatnonzero(np.diff(both.indptr) > 0)
    if len(open_cells) < 2:
        return []
    size, width = both.shape
    pattern = both.tocoo()
    graph = csr_matrix((np.ones(pattern.nnz, dtype=np.int8), (pattern.row, size + pattern.col)), shape=(size + width, size + width))
    sets, component = connected_components(graph, directed=False)  # cells and basis vectors, joined where one holds the other
    undetermined = np.zeros(size, dtype=bool)
    undetermined[open_cells] = True
    cells_in = entry_members(component[open_cells], sets, open_cells)
    vectors_in = entry_members(component[size:], sets, np.arange(width))
    local = np.zeros(size + width, dtype=np.int64)  # each cell's and each vector's place in its set
    for key, cells in enumerate(cells_in):
        local[cells] = np.arange(len(cells))
        local[size + vectors_in[key]] = np.arange(len(vectors_in[key]))
    found = []
    for key, entries in enumerate(entry_members(component[pattern.row], sets)):
        cells = cells_in[key]
        if len(cells) < 2:
            continue
        basis = np.zeros((len(cells), len(vectors_in[key])))
        basis[local[pattern.row[entries]], local[size + pattern.col[entries]]] = pattern.data[entries]
        public = None
        for inside in _smallest(_whole_vectors(basis @ basis.T)):
            group = cells[inside]
            if len(group) < 2 or tuple(group) in seen:
                continue
            public = _known_anyway(lattice, cells, undetermined) if public is None else public
            if not _in_span(public, inside.astype(float)):
                found.append(Group(0, int(group[0]), group))
    return found


def _whole_vectors(gram: np.ndarray) -> np.ndarray:
    """Every nonzero 0/1 vector x with x' G x = 0 (`gram`, G = B B', B cells × vectors of both
    null spaces): orthogonal to every vector, so both publications determine its sum. They lie
    in G's null space, of dimension d, usually 0 to 5 however many cells: written with d pivot
    cells whose columns are the identity, a vector's values on the pivots are its weights, so each
    of the 2^d - 1 choices of 0/1 weights is tried (`SEARCHED_DIMENSION`), else searched weight
    by weight (`_whole_vectors_by_search`)."""
    values, vectors = np.linalg.eigh(gram)
    space = vectors[:, values < GAP].T
    if not len(space):
        return np.zeros((0, len(gram)), dtype=bool)
    _, _, pivots = qr(space, pivoting=True, mode="economic")
    reduced = np.linalg.solve(space[:, pivots[: len(space)]], space)
    if len(space) > SEARCHED_DIMENSION:
        found = _whole_vectors_by_search(reduced)
    else:
        masks = np.arange(1, 2 ** len(space))
        weighed = ((masks[:, None] >> np.arange(len(space))) & 1).astype(float) @ reduced
        whole = ((np.abs(weighed) < 1e-7) | (np.abs(weighed - 1) < 1e-7)).all(axis=1)
        found = weighed[whole] > 0.5
    x = found.astype(float)
    return found[np.einsum("ij,jk,ik->i", x, gram, x) < 1e-12]


def _whole_vectors_by_search(reduced: np.ndarray) -> np.ndarray:
    """The nonzero 0/1 combinations of the rows of `reduced` (each with a pivot cell only it
    holds) that are 0/1 vectors, by trying each row's weight in turn and leaving a choice as soon
    as some cell can no longer end at 0 or 1 whatever the later weights."""
    size, cells = reduced.shape
    reach = np.zeros((2, size + 1, cells))  # per row, the least and most the rows from it on can add to a cell
    reach[0, :-1] = np.cumsum(np.minimum(reduced, 0)[::-1], axis=0)[::-1]
    reach[1, :-1] = np.cumsum(np.maximum(reduced, 0)[::-1], axis=0)[::-1]
    found, stack = [], [(0, np.zeros(cells))]
    while stack:
        row, partial = stack.pop()
        if row == size:
            if partial.max() > 0.5:
                found.append(partial > 0.5)
            continue
        for value in (partial, partial + reduced[row]):
            low, high = value + reach[0, row + 1], value + reach[1, row + 1]
            if (((low < 1e-7) & (high > -1e-7)) | ((low < 1 + 1e-7) & (high > 1 - 1e-7))).all():
                stack.append((row + 1, value))
    return np.array(found, dtype=bool).reshape(len(found), cells)


def _smallest(vectors: np.ndarray) -> list[np.ndarray]:
    """The vectors (rows of 0/1) that hold no other."""
    kept: list[np.ndarray] = []
    for vector in sorted(vectors, key=lambda v: int(v.sum())):
        if not any((vector >= smaller).all() for smaller in kept):
            kept.append(vector)
    return kept


def _known_anyway(lattice: Lattice, cells: np.ndarray, undetermined: np.ndarray) -> np.ndarray:
    """Over `cells`, the undetermined cells of each total of a level the attacker knows anyway
    whose undetermined cells all lie among them."""
    among = np.zeros(len(undetermined), dtype=bool)
    among[cells] = True
    rows = []
    for level in sorted(lattice.fixed):
        for entry in np.unique(lattice.cell_entry[level][cells]):
            under = (lattice.cell_entry[level] == entry) & undetermined
            if not (under & ~among).any():
                rows.append(under[cells].astype(float))
    return np.array(rows).reshape(len(rows), len(cells))


def _in_span(rows: np.ndarray, vector: np.ndarray) -> bool:
    if not len(rows):
        return False
    weights = np.linalg.lstsq(rows.T, vector, rcond=None)[0]
    return bool(np.abs(rows.T @ weights - vector).max() < 1e-7)


@dataclass(frozen=True)
class Told:
    """Per level, the rows a publication shows with a true count (`counted`); per measure no rule
    judges, per level, those it shows with that sum true (`sums`). A row carried forward with
    figures that are still the truth tells them, as an attacker reading it as exact finds: its
    count, and each sum that did not move while another figure did."""

    counted: list[np.ndarray]
    sums: list[list[np.ndarray]]


@dataclass(frozen=True)
class Reading:
    """What a publication's rows determine: through the rows with a true count (`counts`), and per
    measure no rule judges through those with that sum true (`sums`)."""

    counts: Spans
    sums: list[Spans]

    def knowns(self) -> list[list[np.ndarray]]:
        return [self.counts.known, *(spans.known for spans in self.sums)]

    def pairs(self, now: Reading) -> list[tuple[Spans, Spans]]:
        """(then, now) per figure, each pair once."""
        found: list[tuple[Spans, Spans]] = []
        for pair in [(self.counts, now.counts), *zip(self.sums, now.sums, strict=True)]:
            if not any(pair[0] is a and pair[1] is b for a, b in found):
                found.append(pair)
        return found


def _and_other_shapes(lattice: Lattice, groups: list[Group], pairs: list[tuple[Spans, Spans]]) -> list[Group]:
    """The candidate `groups`, then the groups of other shapes each pair of spans (then, now)
    both determine (`other_groups`), each group of cells once."""
    seen = {tuple(g.cells) for g in groups}
    for then, now in pairs:
        found = other_groups(lattice, then, now, seen)
        seen |= {tuple(g.cells) for g in found}
        groups = groups + found
    return groups


def _cells_matrix(groups: list[Group], size: int) -> csr_matrix:
    lengths = [len(g.cells) for g in groups]
    return csr_matrix((np.ones(sum(lengths)), (np.repeat(np.arange(len(groups)), lengths), np.concatenate([g.cells for g in groups]))), shape=(len(groups), size))


def _entries_matrix(groups: list[Group], sizes: list[int]) -> csr_matrix:
    """Per group, +1 on its entry (on each of its cells, a group of detailed cells) and -1 on the
    rows outside it, over every level's entries in turn."""
    offsets = np.cumsum([0, *sizes])
    lengths = np.array([len(g.outside) for g in groups], dtype=np.int64)
    heads = [g.cells if g.level == 0 else np.array([offsets[g.level] + g.entry]) for g in groups]
    outside = np.concatenate([offsets[g.fine] + g.outside for g in groups if g.fine is not None and len(g.outside)] or [np.zeros(0, dtype=np.int64)])
    rows = np.concatenate([np.repeat(np.arange(len(groups)), [len(h) for h in heads]), np.repeat(np.arange(len(groups)), lengths)])
    signs = np.concatenate([np.ones(sum(len(h) for h in heads)), -np.ones(int(lengths.sum()))])
    return csr_matrix((signs, (rows, np.concatenate([*heads, outside]).astype(np.int64))), shape=(len(groups), offsets[-1]))


def _giving_away(entries: csr_matrix, changes: list[np.ndarray], sums: list[np.ndarray] | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group: its change of subjects is 1 to k - 1; and per measure no rule judges, whether
    that sum moved (or may have) while fewer than k subjects did (`changes`, `sums`: per level,
    each entry's). The two are read through different rows, so a group can be read for its sum
    and not for its count: each is asked on its own."""
    net = entries @ np.concatenate(changes).astype(float)
    few = small(np.abs(net), k)
    if sums is None or not sums[0].shape[1]:
        return few, np.zeros((len(few), 0), dtype=bool)
    stacked = np.concatenate(sums)
    unknown = (abs(entries) @ np.isnan(stacked).astype(float)) > 0
    moved = np.where(unknown, np.nan, entries @ np.nan_to_num(stacked))
    return few, (np.abs(net) < k)[:, None] & drifted_each(moved, abs(entries) @ np.abs(np.nan_to_num(stacked)))


def spans_among(done: Iterable[Spans], lattice: Lattice, known: list[np.ndarray]) -> Spans:
    """The spans of `done` worked out for the same rows, else those of `known`: the figures of a
    publication are mostly told by the same rows."""
    for found in done:
        if all(np.array_equal(a, b) for a, b in zip(found.known, known, strict=True)):
            return found
    return Spans(lattice, known)


def _reading_now(lattice: Lattice, now: Told) -> Reading:
    """What the rows shown now determine, per figure: one piece of work per distinct set of rows."""
    done: list[Spans] = []
    for known in (now.counted, *now.sums):
        done.append(spans_among(done, lattice, known))
    return Reading(done[0], done[1:])


def read_across(lattice: Lattice, published: int, then: Reading, now: Told, changes: list[np.ndarray], sums: list[np.ndarray] | None, k: int) -> list[Group]:
    """The candidate groups, and those of other shapes (`other_groups`), whose change since the
    last publication is read and gives someone away: per published level, each entry's `changes`
    of subjects and `sums` (entries × measures no rule judges, NaN unknown). `then` holds what the
    last publication's rows determine, per figure; `now` the rows shown now that tell each figure
    (a row carried with the count it truly has still tells the count)."""
    reading = _reading_now(lattice, now)
    groups = _and_other_shapes(lattice, candidate_groups(lattice, published, [*then.knowns(), *reading.knowns()]), then.pairs(reading))
    if not groups:
        return []
    cells = _cells_matrix(groups, len(lattice.values[0]))
    few, quiet = _giving_away(_entries_matrix(groups, [len(c) for c in changes]), changes, sums, k)
    exposed = np.zeros(len(groups), dtype=bool)
    for asked, spans, later in ((few, then.counts, reading.counts), *((quiet[:, m], then.sums[m], reading.sums[m]) for m in range(quiet.shape[1]))):
        if asked.any():
            exposed |= asked & _reads(spans, cells, asked) & _reads(later, cells, asked)
    return [g for g, hit in zip(groups, exposed, strict=True) if hit]


def read_over_gaps(
    lattice: Lattice,
    published: int,
    older: list[tuple[Reading, list[np.ndarray], list[np.ndarray] | None]],
    last: Reading,
    now: Told,
    k: int,
) -> list[Group]:
    """The candidate groups, and those of other shapes each older publication and now determine,
    read in an older publication and now but not at every publication in between, whose change
    since then gives someone away. `older` holds per older publication, oldest first, what its
    rows determine (as `then` for `read_across`) and per level each entry's change since, of
    subjects and of the sums no rule judges; `last` what the last publication's rows determine;
    `now` as for `read_across`."""
    if not older:
        return []
    reading = _reading_now(lattice, now)
    groups = _and_other_shapes(
        lattice,
        candidate_groups(lattice, published, [*reading.knowns(), *last.knowns(), *(known for then, _, _ in older for known in then.knowns())]),
        [pair for then, _, _ in older for pair in then.pairs(reading)],
    )
    if not groups:
        return []
    cells = _cells_matrix(groups, len(lattice.values[0]))
    entries = _entries_matrix(groups, [len(c) for c in older[0][1]])
    reads = _Memo(cells)
    read_now = [reads(spans) for spans in (reading.counts, *reading.sums)]
    steady = [now_reads & reads(spans) for now_reads, spans in zip(read_now, (last.counts, *last.sums), strict=True)]
    exposed = np.zeros(len(groups), dtype=bool)
    for then, changes, sums in reversed(older):
        read_then = [reads(spans) for spans in (then.counts, *then.sums)]
        few, quiet = _giving_away(entries, changes, sums, k)
        for figure, asked in enumerate((few, *(quiet[:, m] for m in range(quiet.shape[1])))):
            exposed |= asked & read_now[figure] & read_then[figure] & ~steady[figure]
        steady = [kept & told for kept, told in zip(steady, read_then, strict=True)]
    return [g for g, hit in zip(groups, exposed, strict=True) if hit]


class _Memo:
    """Whether each group is read where a `Spans` was worked out, once per `Spans`."""

    def __init__(self, cells: csr_matrix):
        self.cells, self.found = cells, {}

    def __call__(self, spans: Spans) -> np.ndarray:
        if id(spans) not in self.found:
            self.found[id(spans)] = (spans, spans.reads(self.cells))
        return self.found[id(spans)][1]


def _reads(spans: Spans, matrix: csr_matrix, asked: np.ndarray) -> np.ndarray:
    """Whether each group asked about is read where `spans` were worked out; False for the rest."""
    found = np.zeros(matrix.shape[0], dtype=bool)
    found[asked] = spans.reads(matrix[asked])
    return found


def blame(lattice: Lattice, group: Group, hideable: list[np.ndarray]) -> tuple[int, int] | None:
    """The row to hide now so the group is no longer read: for a part of a total, the smallest
    hideable row of its finer level under the total, else the total; for an entry, the entry;
    else the smallest hideable row sharing an equation with the total or entry (a sibling, a
    part, a total above), else with one of its cells. A group of detailed cells of another shape
    (`other_groups`) hides its smallest hideable cell, else the smallest row beside one."""
    if group.fine is not None:
        under = np.zeros(len(lattice.values[group.fine]), dtype=bool)
        under[np.unique(lattice.cell_entry[group.fine][lattice.cell_entry[group.level] == group.entry])] = True
        options = np.flatnonzero(under & hideable[group.fine])
        if len(options):
            return group.fine, int(options[np.argmin(lattice.values[group.fine][options])])
    if group.level == 0 and len(group.cells) > 1:
        options = group.cells[hideable[0][group.cells]]
        if len(options):
            return 0, int(options[np.argmin(lattice.values[0][options])])
        found = [near for cell in group.cells for near in neighbours(lattice, 0, int(cell), hideable)]
    elif hideable[group.level][group.entry]:
        return group.level, group.entry
    else:
        found = neighbours(lattice, group.level, group.entry, hideable)
    if not found and group.level:
        for cell in np.flatnonzero(lattice.cell_entry[group.level] == group.entry):
            found += neighbours(lattice, 0, int(cell), hideable)
    if not found:
        return None
    _, level, entry = min(found)
    return level, entry
