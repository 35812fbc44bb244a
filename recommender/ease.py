"""EASE (Steck 2019) as a plain ranker: the item-item ridge regression
fitted on the train split's (user, item) pairs, beside popularity in the
TopKEvaluator, so every run shows what the wide-and-deep model adds to it.

B = I - P diag(1 / diag(P)) with P = (X'X + l2 I)^-1 of the users x items
0/1 matrix X, diag(B) = 0 (Steck's closed form): B(j, i) = -P(j, i) /
P(i, i) off the diagonal. A user u scores item i as x_u B[:, i], the sum of
B(j, i) over the items j the user rated in train.

P comes from trainer_module.history (ease_inverse: the sparse Gram matrix,
its Cholesky inverse in float64), the same code as the ranking model's EASE
feature; X is sparse throughout, never a users x items array. B is
items x items (dense by nature) and kept as float32, as the model keeps P.
"""
import numpy as np
import scipy.sparse

from recommender.pool import UserShard
from trainer_module import history
from trainer_module.hparams import HParams

# The ranking model's EASE feature's default L2 strength.
DEFAULT_L2 = HParams.ease_l2
# Scores computed at once: rows x items of one dense product.
_MAX_DENSE_SCORES = 1 << 23


def rated_rows(rows: np.ndarray, cols: np.ndarray, num_rows: int,
               num_items: int, dtype: type = np.float64
               ) -> scipy.sparse.csr_matrix:
    """The num_rows x num_items 0/1 CSR matrix of (row, column) pairs;
    a repeated pair counts once."""
    table = history.build_user_history(rows, cols, num_rows)
    return history.rated_sparse(table, num_items, dtype)


def ease_weights(rated: scipy.sparse.csr_matrix,
                 l2: float = DEFAULT_L2) -> np.ndarray:
    """B (float32, items x items) of a sparse 0/1 users x items matrix."""
    weights = history.ease_inverse(rated, l2)  # float64 P, owned here
    weights /= -np.diag(weights).copy()  # column i by -P(i, i)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def fit(user_ids: np.ndarray, item_cols: np.ndarray, num_items: int,
        l2: float = DEFAULT_L2) -> np.ndarray:
    """B from train pairs: any user ids, items as columns 0..num_items - 1
    (the catalog's)."""
    user_ids = np.asarray(user_ids, np.int64)
    _, rows = np.unique(user_ids, return_inverse=True)
    num_rows = int(rows.max()) + 1 if rows.size else 0
    return ease_weights(rated_rows(rows, item_cols, num_rows, num_items), l2)


def score_pairs(weights: np.ndarray, rated: scipy.sparse.csr_matrix,
                rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """float64 scores x_r B[:, c] of the (row, column) pairs, x_r the row
    of `rated`: the sparse rows times B, a bounded block of rows at a time
    and only the rows the pairs name."""
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    num_items = weights.shape[0]
    if rated.shape[1] != num_items:
        raise ValueError(f"rated has {rated.shape[1]} columns, B "
                         f"{num_items} items")
    # B's dtype: a float64 product would copy B to float64.
    rated = scipy.sparse.csr_matrix(rated, dtype=weights.dtype)
    scores = np.zeros(len(rows), np.float64)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    needed = np.unique(sorted_rows)
    step = max(1, _MAX_DENSE_SCORES // max(num_items, 1))
    for start in range(0, len(needed), step):
        block = needed[start:start + step]
        pairs = order[np.searchsorted(sorted_rows, block[0], "left"):
                      np.searchsorted(sorted_rows, block[-1], "right")]
        dense = np.asarray(rated[block] @ weights)
        scores[pairs] = dense[np.searchsorted(block, rows[pairs]),
                              cols[pairs]]
    return scores


def shard_scores(weights: np.ndarray, shard: UserShard,
                 user_ids: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """EASE scores of a pool shard's candidate pairs (user ids and catalog
    columns, as pool.candidate_pairs gives them) from the shard's train
    pairs."""
    rated = rated_rows(shard.seen_rows, shard.seen_cols,
                       len(shard.user_ids), weights.shape[0], weights.dtype)
    return score_pairs(weights, rated,
                       np.searchsorted(shard.user_ids, user_ids), cols)
