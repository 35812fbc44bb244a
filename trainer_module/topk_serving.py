"""The served top-k: TOPK_SIGNATURE takes users and k and returns each user's
k best movies among those the user did not rate in train, ranked inside the
served model (TFRS's brute-force index pattern), so a client sends a user id
instead of every candidate movie.

What it ranks is the TopKEvaluator's pool (components/topk_evaluator): every
catalog movie but the user's train movies, by the served score (the raw
signature's SCORE_KEY: the unclipped rating, or the ranking classifier's
logit blended with its EASE score), ties to the smaller movie id
(recommender/metrics.py top_k_per_user). The pairs are scored by the very
function the pair signatures call, so the lists are the evaluator's.

The catalog is every movie of the train split (the item vocabulary), sorted
by id, with the genres of its train rows (negatives.read_item_genres); the
table of each train user's movies travels with it. Both are variables of
the SavedModel (`TopKTables`, `table_variables`), never graph constants:
ML-20m's 20M train ratings would otherwise outgrow protobuf's 2 GB GraphDef.
The TopKEvaluator's pool also holds the movies only the eval split has
(scored as the out-of-vocabulary movie); the Trainer cannot serve them: in
the transformed examples it reads, their ids are gone.

A user the train split does not hold (the unknown-user fallback) is ranked
as the model scores its out-of-vocabulary user, over every catalog movie,
with nothing excluded: what the TopKEvaluator does for a user who only has
eval ratings. Where k exceeds the user's unseen movies, the slots past them
hold PADDING_ITEM_ID and -inf (scores and predictions).
"""
from typing import Callable, NamedTuple, Sequence

import numpy as np
import tensorflow as tf

import movielens_features as features
from trainer_module.history import UserHistory

# The signature, its input besides features.USER_KEY, and its output besides
# model.SCORE_KEY and model.PREDICTION_KEY (model.ServingModule).
TOPK_SIGNATURE = features.TOPK_SIGNATURE
K_INPUT = "k"
ITEM_IDS_KEY = "item_ids"
# The movie id of a slot past the user's last unseen movie (ids are >= 1:
# pipeline/schema/schema.pbtxt).
PADDING_ITEM_ID = -1

# (user_ids, item_ids, genres) [n] -> scores [n] or [n, 1].
PairScorer = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]


class TopKTables(NamedTuple):
    """What TOPK_SIGNATURE ranks, as numpy arrays (build_tables)."""
    item_ids: np.ndarray  # int64 [movies], sorted: the catalog
    genres: np.ndarray  # object (bytes) [movies]: each movie's genres
    user_ids: np.ndarray  # int64 [users], sorted: the train users
    # User r's train movies are the catalog columns
    # seen[row_splits[r]:row_splits[r + 1]], sorted.
    row_splits: np.ndarray  # int64 [users + 1]
    seen: np.ndarray  # int32


def build_tables(user_history: UserHistory,
                 user_vocabulary: Sequence[bytes],
                 item_vocabulary: Sequence[bytes],
                 item_genres: np.ndarray) -> TopKTables:
    """The tables in raw ids from the Trainer's: its history table of the
    train positives (transformed indexes: history.build_user_history), the
    Transform vocabularies (index -> raw id, as bytes) and each vocabulary
    movie's multi-hot genres ([movies, len(GENRES)], negatives.
    read_item_genres)."""
    user_raw = _raw_ids(user_vocabulary, features.USER_VOCAB_NAME)
    item_raw = _raw_ids(item_vocabulary, features.ITEM_VOCAB_NAME)
    num_items = len(item_raw)
    if item_genres.shape != (num_items, len(features.GENRES)):
        raise ValueError(f"item_genres must be [{num_items}, "
                         f"{len(features.GENRES)}] (one row a vocabulary "
                         f"movie), got {item_genres.shape}")
    lengths = np.diff(user_history.row_splits)[:len(user_raw)]
    # Past the vocabulary: the OOV user's row, empty for train data.
    if user_history.row_splits[len(user_raw)] != len(user_history.items):
        raise ValueError("the history table holds pairs of a user outside "
                         "the user vocabulary")
    items = user_history.items
    if items.size and items.max() >= num_items:
        raise ValueError(f"the history table holds item index {items.max()}, "
                         f"outside the item vocabulary of {num_items}")
    columns = np.empty(num_items, np.int64)  # vocabulary index -> column
    item_order = np.argsort(item_raw, kind="stable")
    columns[item_order] = np.arange(num_items)
    user_order = np.argsort(user_raw, kind="stable")
    rows = np.empty(len(user_raw), np.int64)  # vocabulary index -> row
    rows[user_order] = np.arange(len(user_raw))
    entry_rows = np.repeat(rows, lengths)
    keys = np.sort(entry_rows * max(num_items, 1) + columns[items])
    return TopKTables(
        item_ids=item_raw[item_order],
        genres=genre_strings(item_genres)[item_order],
        user_ids=user_raw[user_order],
        row_splits=np.concatenate([[0], np.cumsum(lengths[user_order])]
                                  ).astype(np.int64),
        seen=(keys % max(num_items, 1)).astype(np.int32))


def _raw_ids(vocabulary: Sequence[bytes], name: str) -> np.ndarray:
    try:
        ids = np.array([int(value) for value in vocabulary], np.int64)
    except ValueError as error:
        raise ValueError(f"the vocabulary {name} must hold integer ids: "
                         f"{error}") from None
    if len(np.unique(ids)) != len(ids):
        raise ValueError(f"the vocabulary {name} repeats an id")
    return ids


def genre_strings(multi_hot: np.ndarray) -> np.ndarray:
    """[movies, len(GENRES)] 0/1 -> each row's genres joined by
    GENRE_SEPARATOR in GENRES order (bytes; b"" for none): a string the
    Transform graph maps back to the same multi-hot, so the served score of
    a catalog movie is the one its raw rows get."""
    names = np.array(features.GENRES, dtype=object)
    return np.array([features.GENRE_SEPARATOR.join(names[row > 0]).encode()
                     for row in np.asarray(multi_hot)], dtype=object)


class TableVariables(NamedTuple):
    """TopKTables as non-trainable tf.Variables (table_variables)."""
    item_ids: tf.Variable
    genres: tf.Variable
    user_ids: tf.Variable
    row_splits: tf.Variable
    seen: tf.Variable


def table_variables(tables: TopKTables) -> TableVariables:
    """Variables holding the tables: a tf.Module that keeps them saves them
    in the SavedModel's variables/, not in its graph."""
    dtypes = {"item_ids": tf.int64, "genres": tf.string,
              "user_ids": tf.int64, "row_splits": tf.int64,
              "seen": tf.int32}
    return TableVariables(**{
        name: tf.Variable(tf.constant(getattr(tables, name), dtype),
                          trainable=False, name=f"topk_{name}")
        for name, dtype in dtypes.items()})


class ServedTopK(NamedTuple):
    """top_k_unseen's result, each [users, k]."""
    item_ids: tf.Tensor  # int64; PADDING_ITEM_ID past the unseen movies
    scores: tf.Tensor  # float32, descending; -inf past the unseen movies
    predictions: tf.Tensor  # to_prediction(scores); -inf likewise


def top_k_unseen(score_pairs: PairScorer, tables: TableVariables,
                 user_ids: tf.Tensor, k: tf.Tensor,
                 to_prediction: Callable[[tf.Tensor], tf.Tensor]
                 ) -> ServedTopK:
    """Per user, the k best unseen catalog movies by score (tf.math.top_k:
    ties to the lower catalog column, i.e. the smaller movie id), padded
    past the user's unseen movies. score_pairs scores every (user, catalog
    movie) pair of the batch at once."""
    k = tf.convert_to_tensor(k, tf.int32)
    with tf.control_dependencies([tf.debugging.assert_positive(
            k, message=f"{TOPK_SIGNATURE}: {K_INPUT} must be a positive "
                       f"integer")]):
        k = tf.identity(k)
    catalog = tables.item_ids.read_value()
    num_items = tf.size(catalog, out_type=tf.int32)
    num_users = tf.size(user_ids, out_type=tf.int32)
    # No call for no user: the estimator's crossed columns refuse 0 rows.
    scores = tf.cond(num_users > 0, lambda: tf.reshape(score_pairs(
        tf.repeat(user_ids, num_items), tf.tile(catalog, [num_users]),
        tf.tile(tables.genres.read_value(), [num_users])),
        [num_users, num_items]), lambda: tf.zeros([0, num_items]))
    seen = seen_mask(tables, user_ids, num_items)
    minus_inf = tf.constant(-np.inf, scores.dtype)
    ranked = tf.math.top_k(tf.where(seen, minus_inf, scores),
                           tf.minimum(k, num_items))
    unseen = num_items - tf.reduce_sum(tf.cast(seen, tf.int32), axis=1)
    width = tf.shape(ranked.indices)[1]
    is_item = tf.range(width)[tf.newaxis, :] < unseen[:, tf.newaxis]
    padding = [[0, 0], [0, k - width]]

    def padded(values, filler):
        return tf.pad(tf.where(is_item, values, filler), padding,
                      constant_values=filler)
    return ServedTopK(
        item_ids=padded(tf.gather(catalog, ranked.indices),
                        tf.constant(PADDING_ITEM_ID, tf.int64)),
        scores=padded(ranked.values, minus_inf),
        predictions=padded(to_prediction(ranked.values), minus_inf))


def seen_mask(tables: TableVariables, user_ids: tf.Tensor,
              num_items: tf.Tensor) -> tf.Tensor:
    """[len(user_ids), num_items] bool: the user's train movies; all False
    for a user the train split does not hold."""
    known = tables.user_ids.read_value()
    splits = tables.row_splits.read_value()
    position = tf.searchsorted(known, user_ids)
    found = tf.gather(known, tf.minimum(position,
                                        tf.maximum(tf.size(known) - 1, 0)))
    is_known = (position < tf.size(known)) & tf.equal(found, user_ids)
    # An unknown user reads the empty row [end, end).
    end = tf.size(splits) - 1
    row = tf.where(is_known, tf.cast(position, tf.int32), end)
    starts = tf.gather(splits, row)
    stops = tf.gather(splits, tf.minimum(row + 1, end))
    lengths = tf.where(is_known, stops - starts, tf.zeros_like(starts))
    cells = tf.ragged.range(starts, starts + lengths)
    columns = tf.gather(tables.seen.read_value(), cells.flat_values)
    indices = tf.stack([tf.cast(cells.value_rowids(), tf.int32), columns],
                       axis=1)
    counts = tf.scatter_nd(indices, tf.ones_like(columns),
                           tf.stack([tf.size(user_ids, out_type=tf.int32),
                                     num_items]))
    return counts > 0
