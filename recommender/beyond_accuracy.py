"""Beyond-accuracy metrics of top-k lists: catalog coverage, distributional
coverage, novelty, diversity and serendipity, as Microsoft Recommenders
defines them (`recommenders.evaluation.python_evaluation`, item
co-occurrence similarity, every recommended item relevant: its defaults).

Over the train pairs (users x items, 0/1) and the recommendations R
(every (user, item) of every user's top-k list, none seen in train):

- catalog coverage: distinct items in R / distinct items in train;
- distributional coverage: -sum over items of p(i) log2 p(i), p(i) the
  item's share of R's rows (Shani and Gunawardana, eq. 21: an entropy in
  bits);
- novelty: the mean over R's rows of -log2(n_i / N), n_i the item's train
  rows, N all train rows (Castells et al.); an item without train rows
  adds 0 but counts in the mean, as in Recommenders;
- similarity: sim(i, j) = c(i, j) / sqrt(n_i n_j), c(i, j) the train users
  who rated both (Zhang et al., Auralist); 0 for items never rated together;
- diversity: the mean over users with at least two items of 1 - the mean
  sim over the distinct pairs of their list;
- serendipity: the mean over users with train items of the mean over their
  list of 1 - the mean sim of the item to each of their train items.

Like the ranking metrics (recommender/metrics.py) they stream over shards
of users: `shard_sums` reduces one shard's lists to additive
`BeyondAccuracySums` (recommendations per item, per-user sums), sums of
shards add with `+`, `finalize` gives the five numbers. Train is assumed to
hold no repeated (user, item) pair (the AnomaliesGate refuses them).

Memory: no items x items array. `Cooccurrence` keeps the sparse train
matrix (by user and by item) and computes the co-occurrence rows of the
items recommended, caching at most _MAX_CACHED_ENTRIES counts (every row
up to ~8,000 items; MovieLens-100k's and 1m's whole matrix).
"""
import collections
import dataclasses
from typing import Dict, Tuple

import numpy as np
import scipy.sparse

METRIC_NAMES: Tuple[str, ...] = (
    "catalog_coverage", "distributional_coverage", "novelty", "diversity",
    "serendipity")
# Co-occurrence counts a Cooccurrence keeps between shards (float32: 256 MB).
_MAX_CACHED_ENTRIES = 1 << 26
# Entries of one dense band of co-occurrence rows computed at once.
_BLOCK_ENTRIES = 1 << 23


@dataclasses.dataclass(frozen=True, eq=False)
class BeyondAccuracySums:
    """Additive accumulator of one ranker's top-k lists; shards add with
    `+`, `finalize` turns the total into the metrics."""
    item_counts: np.ndarray  # int64 [num_items]: rows of R per item column
    diversity: float = 0.0  # sum over users with >= 2 items of their term
    diversity_users: int = 0
    serendipity: float = 0.0  # sum over users with train items of theirs
    serendipity_users: int = 0

    def __add__(self, other: "BeyondAccuracySums") -> "BeyondAccuracySums":
        if not isinstance(other, BeyondAccuracySums):
            return NotImplemented
        if other.item_counts.shape != self.item_counts.shape:
            raise ValueError(
                f"cannot add sums over {self.item_counts.size} and "
                f"{other.item_counts.size} items")
        return BeyondAccuracySums(
            self.item_counts + other.item_counts,
            self.diversity + other.diversity,
            self.diversity_users + other.diversity_users,
            self.serendipity + other.serendipity,
            self.serendipity_users + other.serendipity_users)

    def as_dict(self) -> Dict:
        """JSON-ready; the item counts as their non-zero columns."""
        columns = np.flatnonzero(self.item_counts)
        return {"num_items": int(self.item_counts.size),
                "columns": columns.tolist(),
                "counts": self.item_counts[columns].tolist(),
                "diversity": float(self.diversity),
                "diversity_users": int(self.diversity_users),
                "serendipity": float(self.serendipity),
                "serendipity_users": int(self.serendipity_users)}

    @classmethod
    def from_dict(cls, values: Dict) -> "BeyondAccuracySums":
        counts = np.zeros(values["num_items"], np.int64)
        counts[np.asarray(values["columns"], np.int64)] = values["counts"]
        return cls(counts, values["diversity"], values["diversity_users"],
                   values["serendipity"], values["serendipity_users"])


def train_matrix(row_ids: np.ndarray, item_cols: np.ndarray,
                 num_items: int) -> scipy.sparse.csr_matrix:
    """The 0/1 users x num_items CSR matrix of train pairs (any row ids,
    columns 0..num_items - 1); a repeated pair counts once."""
    _, rows = np.unique(np.asarray(row_ids, np.int64), return_inverse=True)
    cols = np.asarray(item_cols, np.int64)
    if cols.size and (cols.min() < 0 or cols.max() >= num_items):
        raise ValueError(f"item columns must be in [0, {num_items}), got "
                         f"[{cols.min()}, {cols.max()}]")
    matrix = scipy.sparse.csr_matrix(
        (np.ones(cols.size, np.float32), (rows.ravel(), cols)),
        shape=(int(rows.max()) + 1 if rows.size else 0, num_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


class Cooccurrence:
    """c(i, j) of the train matrix, a row of items at a time, and the
    similarity's normaliser 1 / sqrt(n_i). Rows are computed from the
    sparse matrix (the users of item i, then their items) and kept, least
    recently used first out, up to max_cached_entries counts."""

    def __init__(self, rated: scipy.sparse.csr_matrix,
                 max_cached_entries: int = _MAX_CACHED_ENTRIES):
        self._by_user = scipy.sparse.csr_matrix(rated, dtype=np.float32)
        self._by_item = self._by_user.T.tocsr()
        self.num_items = rated.shape[1]
        users = np.diff(self._by_item.indptr).astype(np.float64)
        # 0 for an item without users: its co-occurrence row is 0 anyway.
        self.inverse_sqrt_users = np.divide(
            1.0, np.sqrt(users), out=np.zeros_like(users), where=users > 0)
        self._max_rows = max(1, max_cached_entries // max(self.num_items, 1))
        self._cache: "collections.OrderedDict[int, np.ndarray]" = \
            collections.OrderedDict()

    def rows(self, items: np.ndarray) -> np.ndarray:
        """float32 [len(items), num_items]: c(item, j) for every j (counts,
        exact below 2^24 users)."""
        items = np.asarray(items, np.int64)
        missing = [item for item in items.tolist() if item not in self._cache]
        computed = dict(zip(missing, self._compute(np.array(missing,
                                                            np.int64))))
        block = np.empty((items.size, self.num_items), np.float32)
        for position, item in enumerate(items.tolist()):
            if item in computed:
                block[position] = computed[item]
            else:
                block[position] = self._cache[item]
                self._cache.move_to_end(item)
        for item, row in computed.items():
            self._cache[item] = row
            if len(self._cache) > self._max_rows:
                self._cache.popitem(last=False)
        return block

    def _compute(self, items: np.ndarray):
        step = max(1, _BLOCK_ENTRIES // max(self.num_items, 1))
        for start in range(0, items.size, step):
            band = self._by_item[items[start:start + step]] @ self._by_user
            # Copies: a cached row must not keep its whole band alive.
            yield from (row.copy() for row in band.toarray())


def shard_sums(user_rows: np.ndarray, item_cols: np.ndarray,
               history: scipy.sparse.csr_matrix,
               cooccurrence: Cooccurrence) -> BeyondAccuracySums:
    """One shard's sums. Row j recommends catalog column item_cols[j] to
    the user of row user_rows[j] of `history` (the shard users' 0/1 train
    items); rows grouped by user (metrics.TopK's order), no item twice in a
    list."""
    user_rows = np.asarray(user_rows, np.int64)
    item_cols = np.asarray(item_cols, np.int64)
    counts = np.bincount(item_cols, minlength=cooccurrence.num_items)
    if item_cols.size == 0:
        return BeyondAccuracySums(counts.astype(np.int64))
    items, positions = np.unique(item_cols, return_inverse=True)
    # c(i, j) / sqrt(n_i): each recommended item's row, its own norm done.
    rows = (cooccurrence.rows(items).astype(np.float64)
            * cooccurrence.inverse_sqrt_users[items][:, None])
    diversity, diversity_users = _diversity_sum(
        user_rows, positions, items, rows, cooccurrence.inverse_sqrt_users)
    serendipity, serendipity_users = _serendipity_sum(
        user_rows, positions, rows, history,
        cooccurrence.inverse_sqrt_users)
    return BeyondAccuracySums(counts.astype(np.int64), diversity,
                              diversity_users, serendipity,
                              serendipity_users)


def _user_runs(user_rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Start and length of each user's run of rows."""
    is_start = np.ones(user_rows.size, dtype=bool)
    is_start[1:] = user_rows[1:] != user_rows[:-1]
    starts = np.flatnonzero(is_start)
    if np.unique(user_rows).size != starts.size:
        raise ValueError("top-k rows must be grouped by user")
    return starts, np.diff(np.append(starts, user_rows.size))


def _diversity_sum(user_rows: np.ndarray, positions: np.ndarray,
                   items: np.ndarray, rows: np.ndarray,
                   inverse_sqrt_users: np.ndarray) -> Tuple[float, int]:
    """Sum over users with >= 2 items of 1 - mean sim over their list's
    distinct pairs, and the number of those users."""
    starts, sizes = _user_runs(user_rows)
    first, second = np.triu_indices(int(sizes.max()), 1)
    # Pair (first, second) of a list exists when second < its length.
    exists = second[None, :] < sizes[:, None]
    left = (starts[:, None] + first[None, :])[exists]
    right = (starts[:, None] + second[None, :])[exists]
    pair_user = np.repeat(np.arange(sizes.size), exists.sum(axis=1))
    right_items = items[positions[right]]
    similarity = (rows[positions[left], right_items]
                  * inverse_sqrt_users[right_items])
    pairs = sizes * (sizes - 1) / 2
    several = pairs > 0
    mean = np.bincount(pair_user, weights=similarity,
                       minlength=sizes.size)[several] / pairs[several]
    return float(np.sum(1.0 - mean)), int(several.sum())


def _serendipity_sum(user_rows: np.ndarray, positions: np.ndarray,
                     rows: np.ndarray, history: scipy.sparse.csr_matrix,
                     inverse_sqrt_users: np.ndarray) -> Tuple[float, int]:
    """Sum over users with train items of the mean over their list of
    1 - mean sim to their train items, and the number of those users."""
    history = scipy.sparse.csr_matrix(history, dtype=np.float64)
    history.sum_duplicates()
    history.data[:] = 1.0
    lengths = np.diff(history.indptr)
    seen = np.unique(history.indices)
    # [shard users, recommended items]: sum over the user's train items j
    # of c(i, j) / sqrt(n_i n_j), only over columns some user has seen.
    totals = np.asarray(history[:, seen] @ (
        rows[:, seen] * inverse_sqrt_users[seen]).T)
    length = lengths[user_rows]
    keep = length > 0
    unexpected = 1.0 - totals[user_rows[keep], positions[keep]] / length[keep]
    kept_users = user_rows[keep]
    starts, sizes = _user_runs(kept_users) if kept_users.size else (
        np.zeros(0, np.int64), np.zeros(0, np.int64))
    per_user = np.add.reduceat(unexpected, starts) / sizes \
        if starts.size else np.zeros(0)
    return float(per_user.sum()), int(starts.size)


def finalize(sums: BeyondAccuracySums, train_counts: np.ndarray
             ) -> Dict[str, float]:
    """The five metrics (METRIC_NAMES) from combined sums and each item
    column's train rows. NaN where Recommenders' mean has no term: no
    recommendation (novelty), no list of two items (diversity), no
    recommended user with train items (serendipity)."""
    train_counts = np.asarray(train_counts, np.int64)
    if train_counts.shape != sums.item_counts.shape:
        raise ValueError(f"train_counts has {train_counts.size} items, the "
                         f"sums {sums.item_counts.size}")
    if not train_counts.any():
        raise ValueError("no train rows: coverage and novelty need them")
    counts = sums.item_counts
    total = int(counts.sum())
    share = counts[counts > 0] / total if total else np.zeros(0)
    in_train = train_counts > 0
    item_novelty = np.zeros(counts.size)
    item_novelty[in_train] = -np.log2(train_counts[in_train]
                                      / train_counts.sum())
    return {
        "catalog_coverage": np.count_nonzero(counts) / np.count_nonzero(
            train_counts),
        "distributional_coverage": float(-np.sum(share * np.log2(share))),
        "novelty": _mean(float(counts @ item_novelty), total),
        "diversity": _mean(sums.diversity, sums.diversity_users),
        "serendipity": _mean(sums.serendipity, sums.serendipity_users),
    }


def _mean(total: float, count: int) -> float:
    return total / count if count else float("nan")


def beyond_accuracy(train_user_ids: np.ndarray, train_item_ids: np.ndarray,
                    reco_user_ids: np.ndarray, reco_item_ids: np.ndarray
                    ) -> Dict[str, float]:
    """The five metrics of recommendations (every (user, item) of every
    top-k list, no list holding an item twice) against train pairs, in one
    shard: the plain form of what the TopKEvaluator sums over shards."""
    train_users = np.asarray(train_user_ids, np.int64)
    train_items = np.asarray(train_item_ids, np.int64)
    reco_users = np.asarray(reco_user_ids, np.int64)
    reco_items = np.asarray(reco_item_ids, np.int64)
    items = np.union1d(train_items, reco_items)
    users = np.union1d(train_users, reco_users)
    train_rows = np.searchsorted(users, train_users)
    train_cols = np.searchsorted(items, train_items)
    reco_rows = np.searchsorted(users, reco_users)
    reco_cols = np.searchsorted(items, reco_items)
    _refuse_seen(train_rows, train_cols, reco_rows, reco_cols, items.size)
    history = scipy.sparse.csr_matrix(
        (np.ones(train_rows.size), (train_rows, train_cols)),
        shape=(users.size, items.size))
    order = np.argsort(reco_rows, kind="stable")
    sums = shard_sums(reco_rows[order], reco_cols[order], history,
                      Cooccurrence(train_matrix(train_users, train_cols,
                                                items.size)))
    return finalize(sums, np.bincount(train_cols, minlength=items.size))


def _refuse_seen(train_rows, train_cols, reco_rows, reco_cols,
                 num_items: int) -> None:
    seen = np.isin(reco_rows * num_items + reco_cols,
                   train_rows * num_items + train_cols)
    if seen.any():
        raise ValueError(f"{int(seen.sum())} recommended (user, item) pairs "
                         f"are in train; top-k lists rank unseen items only")
