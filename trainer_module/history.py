"""The user-history feature: the movies a user rated in the train split, as a
bag the deep part embeds (the implicit feedback of SVD++: a user is also
what they watched, so users who watched alike are alike even where their
own embeddings learned little).

The Trainer reads the train split's (user, item) positives once
(`read_positive_pairs`) into a `UserHistory` table, and the table travels
inside the model, in the training graph and in the export alike, so serving
still takes (user_id, item_id, genres) and a user's history is the one the
model was trained with, as their embedding is. `add_history` derives the
feature from the transformed ids; a row's own item is left out of its
history, in training (else a positive would see itself in its history) and
in serving (where the items scored are unseen ones anyway). From the same
table come two optional item-item scores of the row's movie against that
history: the cosine item-kNN score and the EASE score.
"""
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer_module import features

USER_XF = features.transformed_name(features.USER_KEY)
ITEM_XF = features.transformed_name(features.ITEM_KEY)
LABEL_XF = features.transformed_name(features.LABEL_KEY)
_READ_BATCH = 1 << 16


class UserHistory(NamedTuple):
    """Each user's items (transformed indexes), as a ragged table: user u's
    items are items[row_splits[u]:row_splits[u + 1]], sorted, unique.

    With `cooccurrence` (with_cooccurrence), add_history also derives the
    item-kNN score; with `ease_inverse` and `ease_self` (with_ease), the
    EASE score."""
    row_splits: np.ndarray  # int64, num_users + 1
    items: np.ndarray  # int64
    # float32 [num_items, num_items]: users whose history holds both items;
    # the diagonal is each item's number of users.
    cooccurrence: Optional[np.ndarray] = None
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


def with_cooccurrence(history: UserHistory, num_items: int) -> UserHistory:
    """`history` with its item co-occurrence counts (dense: 4 bytes an item
    pair, 55 MB for MovieLens-1m's 3,706 movies)."""
    rated = rated_matrix(history, num_items, np.float32)
    return history._replace(cooccurrence=rated.T @ rated)


def with_ease(history: UserHistory, num_items: int,
              l2: float) -> UserHistory:
    """`history` with what item_ease_score needs: the inverse P of the
    regularised Gram matrix of EASE (Steck 2019) and each user's x_u' P x_u
    (dense, as the co-occurrence). Computed in float64, stored as float32."""
    rated = rated_matrix(history, num_items, np.float64)
    inverse = np.linalg.inv(rated.T @ rated + l2 * np.eye(num_items))
    own = ((rated @ inverse) * rated).sum(axis=1)
    return history._replace(ease_inverse=inverse.astype(np.float32),
                            ease_self=own.astype(np.float32))


def rated_matrix(history: UserHistory, num_items: int,
                 dtype: type) -> np.ndarray:
    """The users x items 0/1 matrix of the table."""
    if history.items.size and history.items.max() >= num_items:
        raise ValueError(f"item indexes must be < {num_items}, got "
                         f"{history.items.max()}")
    num_users = len(history.row_splits) - 1
    rated = np.zeros((num_users, num_items), dtype)
    rated[np.repeat(np.arange(num_users), np.diff(history.row_splits)),
          history.items] = 1.0
    return rated


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
    row's user's items but the row's own item; plus features.ITEM_KNN_XF
    (item_knn_score) when the history has its co-occurrence and
    features.ITEM_EASE_XF (item_ease_score) when it has its EASE inverse.
    Builds its tables as graph constants, so call it inside the graph that
    uses it."""
    table = tf.RaggedTensor.from_row_splits(
        tf.constant(history.items, tf.int64),
        tf.constant(history.row_splits, tf.int64))
    users = tf.reshape(transformed[USER_XF], [-1])
    items = tf.reshape(transformed[ITEM_XF], [-1])
    rows = tf.gather(table, users)
    is_own = tf.equal(rows, tf.expand_dims(items, 1))
    others = tf.ragged.boolean_mask(rows, tf.logical_not(is_own))
    derived = {features.USER_HISTORY_XF: others.to_sparse()}
    own_rating = tf.cast(tf.reduce_any(is_own, axis=1), tf.float32)
    if history.cooccurrence is not None:
        derived[features.ITEM_KNN_XF] = item_knn_score(
            others, items, own_rating, tf.constant(history.cooccurrence))
    if history.ease_inverse is not None:
        derived[features.ITEM_EASE_XF] = item_ease_score(
            others, items, own_rating,
            tf.constant(history.ease_inverse),
            tf.gather(tf.constant(history.ease_self), users))
    return {**transformed, **derived}


def item_knn_score(others: tf.RaggedTensor, items: tf.Tensor,
                   own_rating: tf.Tensor, cooccurrence: tf.Tensor
                   ) -> tf.Tensor:
    """[batch, 1]: sum over j in `others` of cos(item, j), divided by
    sqrt(len(others)). cos(i, j) = c(i, j) / sqrt(n_i * n_j) over the
    co-occurrence counts with the user's own rating of i taken out
    (own_rating 1: c(i, j) - 1, n_i - 1), so a rated movie in training
    scores as an unrated one does at serving time: from the other users."""
    row_ids = others.value_rowids()
    candidates = tf.gather(items, row_ids)
    own = tf.gather(own_rating, row_ids)
    both = tf.gather_nd(cooccurrence,
                        tf.stack([candidates, others.values], axis=1)) - own
    counts = tf.linalg.diag_part(cooccurrence)
    norms = tf.sqrt(tf.maximum(
        (tf.gather(counts, candidates) - own)
        * tf.gather(counts, others.values), 1.0))
    sums = tf.math.unsorted_segment_sum(both / norms, row_ids,
                                        tf.shape(items)[0])
    lengths = tf.cast(others.row_lengths(), tf.float32)
    return tf.expand_dims(sums / tf.sqrt(tf.maximum(lengths, 1.0)), 1)


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
