"""The ranking objective's training negatives, drawn in the Trainer's input
pipeline: Transform analyses and writes only the ratings (the positives),
and every batch of positives gets `negatives_per_positive` sampled unrated
movies per positive as it is read.

The distribution is the NegativeSampler's (components/negative_sampler/
sampling.py): a negative of user u is drawn uniformly, with replacement,
over the catalog (the items of the train split, i.e. the item vocabulary
without its OOV bucket) less the movies u rated in train. A fresh set per
pass over the data: every epoch pairs each positive with new negatives.

Exact, without rejection: with u's rated items sorted, h_0 < h_1 < ..., the
r-th allowed item (r uniform in [0, catalog - n_u)) is
r + #{j : h_j - j <= r}, one binary search in the "adjusted" keys h_j - j.
All users' adjusted keys live in one sorted int64 array (user * stride +
h_j - j), so a batch of draws is one tf.searchsorted.

Reproducible: the draws of the i-th batch come from stateless random ops
seeded by (seed, i), so the same data, order and seed give the same
negatives on any machine.
"""
from typing import Dict, List, NamedTuple, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

import movielens_features as features
from trainer_module.history import UserHistory

USER_XF = features.transformed_name(features.USER_KEY)
ITEM_XF = features.transformed_name(features.ITEM_KEY)
GENRES_XF = features.transformed_name(features.GENRES_KEY)
# Features of the user, copied from the positive to its negatives; the
# item's features are the sampled item's. Any other feature is refused: a
# negative would copy its positive's value without anyone deciding so.
_USER_FEATURES = (USER_XF,)
_ITEM_FEATURES = (ITEM_XF, GENRES_XF)
_READ_BATCH = 1 << 16


class NegativeTable(NamedTuple):
    """What the sampler needs, as numpy arrays (build_negative_table)."""
    # int64, sorted: user * (catalog_size + 1) + h_j - j over each user's
    # sorted rated items h_j (j: the item's position in the user's list).
    adjusted_keys: np.ndarray
    row_splits: np.ndarray  # int64 [num_users + 1], as UserHistory's
    catalog_size: int  # items 0..catalog_size-1 may be drawn
    # float32 [catalog_size, len(GENRES)]: each item's multi-hot genres.
    item_genres: np.ndarray


def build_negative_table(history: UserHistory, catalog_size: int,
                         item_genres: np.ndarray) -> NegativeTable:
    """The sampler's table from the train positives' history table."""
    if history.items.size and history.items.max() >= catalog_size:
        raise ValueError(
            f"the history holds item index {history.items.max()}, outside "
            f"the catalog of {catalog_size} items")
    if item_genres.shape != (catalog_size, len(features.GENRES)):
        raise ValueError(f"item_genres must be [{catalog_size}, "
                         f"{len(features.GENRES)}], got {item_genres.shape}")
    lengths = np.diff(history.row_splits)
    users = np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)
    # Position of each item within its user's sorted list.
    positions = (np.arange(history.items.size, dtype=np.int64)
                 - np.repeat(history.row_splits[:-1], lengths))
    keys = users * (catalog_size + 1) + history.items - positions
    return NegativeTable(keys.astype(np.int64),
                         history.row_splits.astype(np.int64), catalog_size,
                         item_genres.astype(np.float32))


class _Tensors(NamedTuple):
    adjusted_keys: tf.Tensor
    row_splits: tf.Tensor
    item_genres: tf.Tensor


def sample_items(users: tf.Tensor, count: int, table: _Tensors,
                 catalog_size: int, seed: tf.Tensor
                 ) -> Tuple[tf.Tensor, tf.Tensor]:
    """(items, valid): `count` items per user, [len(users) * count] with
    each user's draws together, and whether the draw exists (False for a
    user who rated the whole catalog; their items are then 0)."""
    users = tf.repeat(tf.cast(users, tf.int64), count)
    starts = tf.gather(table.row_splits, users)
    rated = tf.gather(table.row_splits, users + 1) - starts
    allowed = catalog_size - rated
    uniform = tf.random.stateless_uniform(tf.shape(users), seed,
                                          dtype=tf.float64)
    rank = tf.minimum(tf.cast(uniform * tf.cast(allowed, tf.float64),
                              tf.int64), tf.maximum(allowed - 1, 0))
    stride = catalog_size + 1
    below = tf.searchsorted(table.adjusted_keys[tf.newaxis, :],
                            (users * stride + rank)[tf.newaxis, :],
                            side="right", out_type=tf.int64)[0] - starts
    valid = allowed > 0
    return tf.where(valid, rank + below, tf.zeros_like(rank)), valid


def add_negatives(columns: Dict[str, tf.Tensor], labels: tf.Tensor,
                  count: int, table: _Tensors, catalog_size: int,
                  seed: tf.Tensor) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
    """One batch of positives (transformed features, label 1) -> the same
    rows followed by `count` negatives per positive (label 0): the
    positive's user features, a sampled item with its genres."""
    unknown = set(columns) - set(_USER_FEATURES) - set(_ITEM_FEATURES)
    if unknown:
        raise ValueError(f"the negative sampler does not know whether "
                         f"{sorted(unknown)} describe the user or the item")
    users = tf.reshape(columns[USER_XF], [-1])
    items, valid = sample_items(users, count, table, catalog_size, seed)
    genres = tf.gather(table.item_genres, items)
    sampled = {name: tf.repeat(columns[name], count, axis=0)
               for name in _USER_FEATURES}
    sampled[ITEM_XF] = tf.reshape(
        tf.cast(items, columns[ITEM_XF].dtype),
        tf.shape(tf.repeat(columns[ITEM_XF], count, axis=0)))
    sampled[GENRES_XF] = genres
    sampled_labels = tf.zeros_like(tf.repeat(labels, count, axis=0))
    sampled = {name: tf.boolean_mask(values, valid)
               for name, values in sampled.items()}
    sampled_labels = tf.boolean_mask(sampled_labels, valid)
    merged = {name: tf.concat([columns[name], sampled[name]], axis=0)
              for name in columns}
    return merged, tf.concat([labels, sampled_labels], axis=0)


def with_negatives(dataset: tf.data.Dataset, table: NegativeTable,
                   count: int, seed: int) -> tf.data.Dataset:
    """(features, labels) batches of positives -> batches with `count`
    sampled negatives per positive (add_negatives), the i-th batch's draws
    seeded by (seed, i). Builds its tables as graph constants, so call it
    inside the graph that uses it (the estimator's input_fn)."""
    tensors = _Tensors(tf.constant(table.adjusted_keys),
                       tf.constant(table.row_splits),
                       tf.constant(table.item_genres))

    def add(index, batch):
        columns, labels = batch
        return add_negatives(columns, labels, count, tensors,
                             table.catalog_size,
                             tf.stack([tf.constant(seed, tf.int64), index]))
    return dataset.enumerate().map(add, num_parallel_calls=tf.data.AUTOTUNE,
                                   deterministic=True)


def read_item_genres(file_patterns: List[str],
                     tf_transform_output: tft.TFTransformOutput,
                     catalog_size: int) -> np.ndarray:
    """[catalog_size, len(GENRES)] float32: each item's multi-hot genres in
    the transformed train examples. Where rows of one item disagree, the
    row with the most genres wins (the catalog's rule, by count)."""
    files = [path for pattern in file_patterns
             for path in tf.io.gfile.glob(pattern)]
    spec = {name: tf_transform_output.transformed_feature_spec()[name]
            for name in (ITEM_XF, GENRES_XF)}
    genres = np.zeros((catalog_size, len(features.GENRES)), np.float32)
    counts = np.full(catalog_size, -1, np.int64)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    for batch in dataset.batch(_READ_BATCH):
        parsed = tf.io.parse_example(batch, spec)
        items = tf.reshape(parsed[ITEM_XF], [-1]).numpy()
        rows = parsed[GENRES_XF].numpy().reshape(len(items), -1)
        inside = items < catalog_size
        items, rows = items[inside], rows[inside]
        # Per item, the row with the most genres: sort by (item, count).
        row_counts = rows.sum(axis=1).astype(np.int64)
        order = np.lexsort((row_counts, items))
        last = np.r_[items[order][1:] != items[order][:-1], True]
        best = order[last]
        better = row_counts[best] > counts[items[best]]
        genres[items[best][better]] = rows[best][better]
        counts[items[best][better]] = row_counts[best][better]
    return genres
