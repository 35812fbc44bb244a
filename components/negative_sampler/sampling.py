"""Negative sampling for an implicit-feedback ranking objective, as plain
functions of one user (no Beam; transforms.py runs them per user).

The sampler writes the eval split only (the ranking Trainer draws its
training negatives itself, trainer_module/negatives.py). Every eval rating
is a positive (label 1), whatever its value. A negative (label 0) of a user
is an item of the catalog (the items of the train split) that the user
rated in neither train nor eval. Negatives are drawn independently and
uniformly over those allowed items (with replacement: a user's negatives
may repeat an item). A negative copies the timestamp of the positive it was
drawn for, has rating 0.0 and the genres the catalog gives its item.

Every random number of a user comes from one generator seeded by (seed,
user_id) (user_rng), and a user's positives are sorted first, so the output
depends only on the data and the seed, never on how Beam bundles or orders
the work.
"""
from typing import (Iterable, Iterator, List, NamedTuple, Optional, Sequence,
                    Tuple)

import numpy as np
import tensorflow as tf

from recommender import catalog as catalog_lib
import movielens_features as features

# The label feature added to every output example (the column the trainer
from trainer_module import raw_examples

# The label feature added to every output example (the column the trainer
# knows as features.SAMPLED_LABEL_KEY).
LABEL_FEATURE_KEY = features.SAMPLED_LABEL_KEY
POSITIVE_LABEL = 1
NEGATIVE_LABEL = 0
# The rating of a negative: a Transform may also derive the label as
# rating > 0 (real ratings start at features.RATING_MIN).
NEGATIVE_RATING = 0.0

# The entries after (seed, user id) of every generator's seed: round 0 and
# split index 1 (train was 0), what seeded the eval split when the sampler
# also wrote train rounds. Kept, so that a seed draws the very negatives it
# drew then and the pipeline's ranking figures reproduce.
_EVAL_SEED_TAIL = (0, 1)

# Rejection sampling (draw from the whole catalog, drop what the user rated)
# while at least this fraction of the catalog is allowed, so it takes at most
# 1 / fraction draws per negative on average; below it, draws index the list
# of allowed items. Both give the same distribution.
REJECTION_MIN_ALLOWED_FRACTION = 0.5

_UINT64 = 1 << 64
_GOLDEN = 0x9E3779B97F4A7C15


class Rating(NamedTuple):
    """One raw example (a positive)."""
    user_id: int
    item_id: int
    rating: float
    timestamp: int
    genres: bytes  # b"" when the example has no genres value


class LabeledRows(NamedTuple):
    """A user's output examples, as aligned columns: each positive followed
    by its negatives."""
    user_id: int
    item_ids: np.ndarray  # int64
    ratings: np.ndarray  # float32
    timestamps: np.ndarray  # int64
    genres: np.ndarray  # object (bytes)
    labels: np.ndarray  # int64

    def __len__(self) -> int:
        return int(self.item_ids.size)

    @property
    def num_negatives(self) -> int:
        return int(np.count_nonzero(self.labels == NEGATIVE_LABEL))


# ------------------------------------------------------------ raw examples


# tf.Example's value list of each dtype of the raw feature spec.
_VALUE_LIST = {tf.int64: "int64_list", tf.float32: "float_list",
               tf.string: "bytes_list"}
_RAW_SPEC = raw_examples.feature_spec()


def parse_rating(serialized: bytes) -> Rating:
    """A serialized raw tf.Example (as CsvExampleGen writes it) -> Rating,
    by the raw feature spec (one value per column, genres zero or one), in
    Python: one example per call, inside the sampler's DoFns."""
    feature = tf.train.Example.FromString(serialized).features.feature

    def values(key: str):
        kind = _VALUE_LIST[_RAW_SPEC[key].dtype]
        return getattr(feature[key], kind).value if key in feature else []

    def single(key: str):
        found = values(key)
        if len(found) != 1:
            raise ValueError(
                f"a raw example must have exactly one {key!r} value, this "
                f"one has {len(found)}: {serialized[:200]!r}")
        return found[0]

    return Rating(
        user_id=int(single(features.USER_KEY)),
        item_id=int(single(features.ITEM_KEY)),
        rating=float(single(features.LABEL_KEY)),
        timestamp=int(single(features.TIMESTAMP_KEY)),
        genres=features.GENRE_SEPARATOR.encode().join(
            values(features.GENRES_KEY)))


# ----------------------------------------------------------------- sampling


def user_rng(seed: int, user_id: int) -> np.random.Generator:
    """The generator of one user's eval examples."""
    # SeedSequence takes non-negative integers; ids map to [0, 2**64).
    return np.random.default_rng(
        [seed, int(user_id) % _UINT64, *_EVAL_SEED_TAIL])


def keeps_user(seed: int, user_id: int, fraction: float) -> bool:
    """Whether a user is in the seeded sample of about `fraction` of the
    users: a hash of (seed, user id) below fraction of its range (1: every
    user). Per user, so no pass over all users is needed."""
    if fraction >= 1.0:
        return True
    return _mix64(seed * _GOLDEN + int(user_id)) < fraction * _UINT64


def _mix64(value: int) -> int:
    # splitmix64's finaliser: consecutive ids land far apart.
    value = (value + _GOLDEN) % _UINT64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) % _UINT64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) % _UINT64
    return value ^ (value >> 31)


class NegativePool:
    """The catalog items one user may get as negatives."""

    def __init__(self, catalog_size: int, excluded_indices: np.ndarray):
        allowed = np.ones(catalog_size, dtype=bool)
        allowed[np.asarray(excluded_indices, dtype=np.int64)] = False
        self._allowed = allowed
        self.size = int(np.count_nonzero(allowed))
        self._allowed_indices: Optional[np.ndarray] = None

    @classmethod
    def for_user(cls, catalog: catalog_lib.Catalog,
                 excluded_item_ids: Iterable[int]) -> "NegativePool":
        """All catalog items but `excluded_item_ids` (ids outside the
        catalog are ignored)."""
        return cls(catalog.item_ids.size,
                   catalog_indices(catalog, excluded_item_ids))

    @property
    def catalog_size(self) -> int:
        return int(self._allowed.size)

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """`count` catalog indices drawn independently and uniformly over
        the allowed items; none if no item is allowed."""
        if count <= 0 or self.size == 0:
            return np.zeros(0, dtype=np.int64)
        if self.size >= REJECTION_MIN_ALLOWED_FRACTION * self.catalog_size:
            return self._rejection_sample(rng, count)
        if self._allowed_indices is None:
            self._allowed_indices = np.flatnonzero(self._allowed)
        return self._allowed_indices[rng.integers(0, self.size, size=count)]

    def _rejection_sample(self, rng: np.random.Generator,
                          count: int) -> np.ndarray:
        accepted, found = [], 0
        while found < count:
            # Enough draws to fill the rest on average, plus a margin.
            draws = int((count - found) * 1.1 * self.catalog_size
                        / self.size) + 8
            candidates = rng.integers(0, self.catalog_size, size=draws)
            candidates = candidates[self._allowed[candidates]]
            accepted.append(candidates)
            found += candidates.size
        return np.concatenate(accepted)[:count].astype(np.int64)


def catalog_indices(catalog: catalog_lib.Catalog,
                    item_ids: Iterable[int]) -> np.ndarray:
    """Positions in the catalog of those `item_ids` it holds."""
    item_ids = np.unique(np.fromiter(item_ids, dtype=np.int64))
    positions = np.searchsorted(catalog.item_ids, item_ids)
    inside = positions < catalog.item_ids.size
    inside[inside] = catalog.item_ids[positions[inside]] == item_ids[inside]
    return positions[inside]


def sort_positives(ratings: Iterable[Rating]) -> List[Rating]:
    """A user's ratings in a fixed order (Beam gives them in any order)."""
    return sorted(ratings)


def sample_rows(positives: Sequence[Rating], pool: NegativePool,
                 catalog: catalog_lib.Catalog, negatives_per_positive: int,
                 rng: np.random.Generator) -> LabeledRows:
    """Each positive (of one user, in the given order) followed by its
    `negatives_per_positive` negatives; positives only if the pool is empty.
    """
    if not positives:
        raise ValueError("sample_rows needs at least one positive")
    count = len(positives)
    sampled = pool.sample(rng, count * negatives_per_positive)
    per_positive = sampled.size // count
    width = 1 + per_positive
    shape = (count, width)

    item_ids = np.empty(shape, dtype=np.int64)
    ratings = np.full(shape, NEGATIVE_RATING, dtype=np.float32)
    timestamps = np.empty(shape, dtype=np.int64)
    genres = np.empty(shape, dtype=object)
    labels = np.full(shape, NEGATIVE_LABEL, dtype=np.int64)

    item_ids[:, 0] = [p.item_id for p in positives]
    ratings[:, 0] = [p.rating for p in positives]
    timestamps[:] = np.array([p.timestamp for p in positives],
                             dtype=np.int64)[:, None]
    genres[:, 0] = [p.genres for p in positives]
    labels[:, 0] = POSITIVE_LABEL
    if per_positive:
        item_ids[:, 1:] = catalog.item_ids[sampled].reshape(count,
                                                            per_positive)
        genres[:, 1:] = catalog.genres[sampled].reshape(count, per_positive)
    return LabeledRows(
        user_id=int(positives[0].user_id), item_ids=item_ids.ravel(),
        ratings=ratings.ravel(), timestamps=timestamps.ravel(),
        genres=genres.ravel(), labels=labels.ravel())


def eval_rows(user_id: int, train: Iterable[Rating], eval_: Iterable[Rating],
              catalog: catalog_lib.Catalog, negatives_per_positive: int,
              seed: int
              ) -> Optional[Tuple[LabeledRows, np.random.Generator]]:
    """A user's eval examples, with their generator (to draw more from it,
    such as output shuffle keys); None without eval positives.

    Negatives exclude the user's train and eval items.
    """
    positives = sort_positives(eval_)
    if not positives:
        return None
    excluded = [r.item_id for r in train] + [p.item_id for p in positives]
    pool = NegativePool.for_user(catalog, excluded)
    rng = user_rng(seed, user_id)
    return sample_rows(positives, pool, catalog, negatives_per_positive,
                       rng), rng


# ------------------------------------------------------------ output


def to_examples(rows: LabeledRows) -> Iterator[tf.train.Example]:
    """One tf.Example per row: the raw columns plus the label. An empty
    genres string is a feature without value, as CsvExampleGen writes it."""
    columns = zip(rows.item_ids.tolist(), rows.ratings.tolist(),
                  rows.timestamps.tolist(), rows.genres.tolist(),
                  rows.labels.tolist())
    user = tf.train.Feature(int64_list=tf.train.Int64List(
        value=[rows.user_id]))
    for item_id, rating, timestamp, genres, label in columns:
        yield tf.train.Example(features=tf.train.Features(feature={
            features.USER_KEY: user,
            features.ITEM_KEY: tf.train.Feature(
                int64_list=tf.train.Int64List(value=[item_id])),
            features.LABEL_KEY: tf.train.Feature(
                float_list=tf.train.FloatList(value=[rating])),
            features.TIMESTAMP_KEY: tf.train.Feature(
                int64_list=tf.train.Int64List(value=[timestamp])),
            features.GENRES_KEY: tf.train.Feature(
                bytes_list=tf.train.BytesList(
                    value=[genres] if genres else [])),
            LABEL_FEATURE_KEY: tf.train.Feature(
                int64_list=tf.train.Int64List(value=[label])),
        }))


def serialize_rows(rows: LabeledRows) -> Iterator[bytes]:
    """The serialized to_examples(rows), with a fixed field order
    (byte-identical across runs and processes).

    Fills one reused tf.Example in place: about 2.5 times as fast as
    building a new one per row.
    """
    example = tf.train.Example()
    feature = example.features.feature
    feature[features.USER_KEY].int64_list.value.append(rows.user_id)
    item_id = feature[features.ITEM_KEY].int64_list.value
    rating = feature[features.LABEL_KEY].float_list.value
    timestamp = feature[features.TIMESTAMP_KEY].int64_list.value
    genres = feature[features.GENRES_KEY].bytes_list.value
    label = feature[LABEL_FEATURE_KEY].int64_list.value
    for values in (item_id, rating, timestamp, label):
        values.append(0)
    columns = zip(rows.item_ids.tolist(), rows.ratings.tolist(),
                  rows.timestamps.tolist(), rows.genres.tolist(),
                  rows.labels.tolist())
    for row_item, row_rating, row_timestamp, row_genres, row_label in columns:
        item_id[0], rating[0] = row_item, row_rating
        timestamp[0], label[0] = row_timestamp, row_label
        del genres[:]
        if row_genres:
            genres.append(row_genres)
        yield example.SerializeToString(deterministic=True)
