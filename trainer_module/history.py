"""The user-history feature: the movies a user rated in the train split, as a
bag the deep part embeds (the implicit feedback of SVD++: a user is also
what they watched, so users who watched alike are alike even where their
own embeddings learned little).

The Trainer reads the train split's (user, item) positives once
(`read_positive_pairs`) into a `UserHistory` table, and the table travels
inside the model, in the training graph and in the export alike, so serving
still takes (user_id, item_id, genres) and a user's history is the one the
model was trained with, as their embedding is. The tables are variables
(`table_variables`), not graph constants: the SavedModel's graph stays small
at any size (protobuf caps a GraphDef at 2 GB; ML-20m's EASE table alone is
2.9 GB), the values travel in the checkpoint and the SavedModel's
variables/, and `TableLoader` fills them at the start of training.
`add_history` derives the
feature from the transformed ids; a row's own item is left out of its
history, in training (else a positive would see itself in its history) and
in serving (where the items scored are unseen ones anyway). From the same
table comes an optional item-item score of the row's movie against that
history: the EASE score.
"""
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import scipy.linalg
import scipy.sparse
import tensorflow as tf
import tensorflow_transform as tft

import movielens_features as features

from trainer_module import lapack_threads

USER_XF = features.transformed_name(features.USER_KEY)
ITEM_XF = features.transformed_name(features.ITEM_KEY)
LABEL_XF = features.transformed_name(features.LABEL_KEY)
_READ_BATCH = 1 << 16
# Variable scope of the tables inside the model (table_variables).
TABLE_SCOPE = "user_history_tables"
# Entries of a dense band of rows the item-item computations handle at once.
_BLOCK_ENTRIES = 1 << 23


class UserHistory(NamedTuple):
    """Each user's items (transformed indexes), as a ragged table: user u's
    items are items[row_splits[u]:row_splits[u + 1]], sorted, unique.

    With `ease_inverse` and `ease_self` (with_ease), add_history also
    derives the EASE score."""
    row_splits: np.ndarray  # int64, num_users + 1
    items: np.ndarray  # int64
    # float32 [num_items, num_items]: P = (X'X + l2 I)^-1 of the users x
    # items 0/1 matrix X; and float32 [num_users]: x_u' P x_u of each user's
    # row x_u (item_ease_score).
    ease_inverse: Optional[np.ndarray] = None
    ease_self: Optional[np.ndarray] = None


def build_user_history(user_xf: np.ndarray, item_xf: np.ndarray,
                       num_users: int) -> UserHistory:
    """The table of (user, item) pairs; repeated pairs count once. Users
    without a pair (the OOV bucket, too) get an empty history."""
    user_xf, item_xf = (np.asarray(user_xf, np.int64),
                        np.asarray(item_xf, np.int64))
    if user_xf.size and (user_xf.min() < 0 or user_xf.max() >= num_users):
        raise ValueError(f"user indexes must be in [0, {num_users}), got "
                         f"[{user_xf.min()}, {user_xf.max()}]")
    pairs = np.unique(np.stack([user_xf, item_xf], axis=1), axis=0) \
        if user_xf.size else np.zeros((0, 2), np.int64)
    row_splits = np.searchsorted(pairs[:, 0], np.arange(num_users + 1))
    return UserHistory(row_splits.astype(np.int64),
                       pairs[:, 1].astype(np.int64))


def with_ease(history: UserHistory, num_items: int,
              l2: float) -> UserHistory:
    """`history` with what item_ease_score needs: the inverse P of the
    regularised Gram matrix of EASE (Steck 2019) and each user's x_u' P x_u.
    Computed in float64 from the sparse table (no users x items array),
    stored as float32."""
    rated = rated_sparse(history, num_items)
    inverse = ease_inverse(rated, l2)
    own = quadratic_forms(rated, inverse)
    return history._replace(ease_inverse=inverse.astype(np.float32),
                            ease_self=own.astype(np.float32))


def rated_sparse(history: UserHistory, num_items: int,
                 dtype: type = np.float64) -> scipy.sparse.csr_matrix:
    """The users x items 0/1 matrix X of the table, sparse: the table is
    already CSR (a row's columns are the user's items, sorted, unique)."""
    if history.items.size and history.items.max() >= num_items:
        raise ValueError(f"item indexes must be < {num_items}, got "
                         f"{history.items.max()}")
    num_users = len(history.row_splits) - 1
    return scipy.sparse.csr_matrix(
        (np.ones(history.items.size, dtype), history.items,
         history.row_splits), shape=(num_users, num_items))


def ease_inverse(rated: scipy.sparse.csr_matrix, l2: float) -> np.ndarray:
    """P = (X'X + l2 I)^-1 of a sparse 0/1 users x items matrix X, float64
    dense items x items: the upper triangle of the Gram matrix, then its
    Cholesky factor and inverse (LAPACK potrf and potri, in place: one
    items x items array, and half the work of a general inverse)."""
    if not l2 > 0:
        raise ValueError(f"l2 must be positive, got {l2}")
    upper = _gram_upper(rated, np.float64)
    upper[np.diag_indices_from(upper)] += l2
    # The C-ordered upper triangle is the lower one of the Fortran-ordered
    # transpose, LAPACK's view of the same memory.
    with lapack_threads.lapack_threads_for(len(upper)):
        factor, info = scipy.linalg.lapack.dpotrf(upper.T, lower=1, clean=0,
                                                  overwrite_a=1)
        if info == 0:
            factor, info = scipy.linalg.lapack.dpotri(factor, lower=1,
                                                      overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"X'X + {l2:g} I is not positive definite (LAPACK info {info})")
    return symmetric_from_upper(factor.T)


def quadratic_forms(rated: scipy.sparse.csr_matrix,
                    matrix: np.ndarray) -> np.ndarray:
    """x_u' M x_u of every row x_u of a sparse 0/1 matrix, for a symmetric
    dense M (float64): the sum of M[j, k] over the row's own item pairs,
    2 * sum over k >= j - sum over k = j, never a users x items array.
    Item by item: the rows holding item j, each from j to its end, gathered
    from row j of M (one row at a time, so the gathers stay in cache)."""
    rated = scipy.sparse.csr_matrix(rated)
    if not rated.has_sorted_indices:
        rated = rated.sorted_indices()
    num_rows, num_items = rated.shape
    if matrix.shape != (num_items, num_items):
        raise ValueError(f"a {num_rows} x {num_items} matrix needs a "
                         f"{num_items} x {num_items} M, got {matrix.shape}")
    indptr = rated.indptr.astype(np.int64)
    indices = rated.indices
    entry_rows = np.repeat(np.arange(num_rows), np.diff(indptr))
    # Entries item by item, each item's in row order.
    by_item = np.argsort(indices, kind="stable")
    item_bounds = np.concatenate(
        [[0], np.cumsum(np.bincount(indices, minlength=num_items))])
    upper_sums = np.zeros(num_rows)
    for item in np.flatnonzero(np.diff(item_bounds)):
        entries = by_item[item_bounds[item]:item_bounds[item + 1]]
        rows = entry_rows[entries]
        lengths = indptr[rows + 1] - entries  # j and the items after it
        ends = np.cumsum(lengths)
        starts = ends - lengths
        positions = np.arange(ends[-1]) + np.repeat(entries - starts,
                                                    lengths)
        values = matrix[item].take(indices[positions])
        upper_sums[rows] += np.add.reduceat(values, starts)
    diagonal_sums = np.bincount(entry_rows, weights=np.diag(matrix)[indices],
                                minlength=num_rows)
    return 2.0 * upper_sums - diagonal_sums


def symmetric_from_upper(matrix: np.ndarray) -> np.ndarray:
    """`matrix` (square) with its lower triangle set from its upper one, in
    place, a band of rows at a time; returns it."""
    size = len(matrix)
    step = max(1, _BLOCK_ENTRIES // max(size, 1))
    for start in range(0, size, step):
        stop = min(start + step, size)
        matrix[start:stop, :start] = matrix[:start, start:stop].T
        block = matrix[start:stop, start:stop]
        lower = np.tril_indices(stop - start, -1)
        block[lower] = block.T[lower]
    return matrix


def _gram_upper(rated: scipy.sparse.csr_matrix, dtype: type) -> np.ndarray:
    """X'X as a dense dtype array of which only the upper triangle (diagonal
    included) is filled in, one band of item rows at a time: each band's
    sparse product X[:, band]' X[:, band start:] is bounded, and the lower
    triangle is not multiplied. Sparse products are in float32 (exact for
    counts below 2^24) unless the rows are more."""
    num_rows, num_items = rated.shape
    exact = np.float32 if num_rows < 2 ** 24 else np.float64
    by_item = rated.T.astype(exact).tocsr()
    by_column = rated.astype(exact).tocsc()
    upper = np.zeros((num_items, num_items), dtype)
    step = max(1, _BLOCK_ENTRIES // max(num_items, 1))
    for start in range(0, num_items, step):
        stop = min(start + step, num_items)
        band = by_item[start:stop] @ by_column[:, start:]
        upper[start:stop, start:] = band.toarray()
    return upper


def read_positive_pairs(file_patterns: List[str],
                        tf_transform_output: tft.TFTransformOutput
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """(user_xf, item_xf) of every row of the transformed examples whose
    label is positive: a rated movie (the ranking objective's negatives have
    label 0; every row of the rating objective is a rating)."""
    files = [path for pattern in file_patterns
             for path in tf.io.gfile.glob(pattern)]
    spec = {name: tf_transform_output.transformed_feature_spec()[name]
            for name in (USER_XF, ITEM_XF, LABEL_XF)}
    users, items = [], []
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    for batch in dataset.batch(_READ_BATCH):
        parsed = tf.io.parse_example(batch, spec)
        positive = tf.reshape(parsed[LABEL_XF], [-1]).numpy() > 0
        users.append(tf.reshape(parsed[USER_XF], [-1]).numpy()[positive])
        items.append(tf.reshape(parsed[ITEM_XF], [-1]).numpy()[positive])
    if not users:
        raise ValueError(f"no transformed examples match {file_patterns}")
    return np.concatenate(users), np.concatenate(items)


def add_history(transformed: Dict[str, tf.Tensor], history: UserHistory
                ) -> Dict[str, tf.Tensor]:
    """`transformed` plus features.USER_HISTORY_XF: a SparseTensor of each
    row's user's items but the row's own item; plus features.ITEM_EASE_XF
    (item_ease_score) when the history has its EASE inverse.
    The history's tables may be arrays (graph constants, for small data
    and tests) or the variables of table_variables."""
    table = tf.RaggedTensor.from_row_splits(
        tf.convert_to_tensor(history.items, tf.int64),
        tf.convert_to_tensor(history.row_splits, tf.int64))
    users = tf.reshape(transformed[USER_XF], [-1])
    items = tf.reshape(transformed[ITEM_XF], [-1])
    rows = tf.gather(table, users)
    is_own = tf.equal(rows, tf.expand_dims(items, 1))
    others = tf.ragged.boolean_mask(rows, tf.logical_not(is_own))
    derived = {features.USER_HISTORY_XF: others.to_sparse()}
    if history.ease_inverse is not None:
        own_rating = tf.cast(tf.reduce_any(is_own, axis=1), tf.float32)
        derived[features.ITEM_EASE_XF] = item_ease_score(
            others, items, own_rating,
            tf.convert_to_tensor(history.ease_inverse, tf.float32),
            tf.gather(tf.convert_to_tensor(history.ease_self, tf.float32),
                      users))
    return {**transformed, **derived}


def table_variables(history: UserHistory) -> UserHistory:
    """`history` with each table a non-trainable variable of its shape and
    dtype under TABLE_SCOPE, zero until restored from a checkpoint or
    filled by TableLoader: for graphs whose tables must not be constants
    (the estimator's model_fn, in training and in the export)."""
    def variable(name: str, array: np.ndarray) -> tf.Variable:
        return tf.compat.v1.get_variable(
            name, shape=array.shape, dtype=tf.as_dtype(array.dtype),
            initializer=tf.compat.v1.zeros_initializer(), trainable=False,
            use_resource=True)
    with tf.compat.v1.variable_scope(TABLE_SCOPE,
                                     reuse=tf.compat.v1.AUTO_REUSE):
        return UserHistory(**{
            name: None if array is None else variable(name, array)
            for name, array in history._asdict().items()})


class TableLoader(tf.compat.v1.train.SessionRunHook):
    """Fills table_variables' variables with the history's arrays once the
    training session exists (fed, so no array becomes a graph constant)."""

    def __init__(self, variables: UserHistory, arrays: UserHistory):
        self._pairs = [(variable, array) for variable, array
                       in zip(variables, arrays) if array is not None]
        self._feeds, self._assign = [], None

    def begin(self) -> None:
        assigns = []
        for variable, array in self._pairs:
            placeholder = tf.compat.v1.placeholder(variable.dtype,
                                                   array.shape)
            self._feeds.append(placeholder)
            assigns.append(variable.assign(placeholder, read_value=False))
        self._assign = tf.group(*assigns)

    def after_create_session(self, session, coord) -> None:
        session.run(self._assign, feed_dict={
            placeholder: array for placeholder, (_, array)
            in zip(self._feeds, self._pairs)})


def item_ease_score(others: tf.RaggedTensor, items: tf.Tensor,
                    own_rating: tf.Tensor, inverse: tf.Tensor,
                    user_self: tf.Tensor) -> tf.Tensor:
    """[batch, 1]: EASE's score of the candidate item i from the user's
    other items, sum over j in `others` of B(j, i) = -P'(j, i) / P'(i, i),
    where P' is the inverse of the Gram matrix without the user's row x:
    the user is scored from the other users' data, in training (where the
    full P would have fit the very positives it scores) and in serving
    alike. Sherman-Morrison: P' = P + v v' / d, v = P x, d = 1 - x' P x
    (`user_self` is x' P x), and v(i) = sum over others of P(j, i), plus
    P(i, i) when the user rated i (own_rating 1)."""
    row_ids = others.value_rowids()
    pairs = tf.stack([tf.gather(items, row_ids), others.values], axis=1)
    column_sums = tf.math.unsorted_segment_sum(
        tf.gather_nd(inverse, pairs), row_ids, tf.shape(items)[0])
    diagonal = tf.gather(tf.linalg.diag_part(inverse), items)
    v_item = column_sums + own_rating * diagonal
    # x_u' P x_u < 1 for l2 > 0; the floor guards float32 rounding.
    rest = tf.maximum(1.0 - user_self, 1e-6)
    numerator = column_sums + v_item * (user_self - own_rating * v_item) / rest
    denominator = diagonal + v_item * v_item / rest
    return tf.expand_dims(-numerator / denominator, 1)
