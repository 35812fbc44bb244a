"""Every user's top-k unseen movies from a served model, as one CSV and one
TFRecord file: the plain functions and the Beam job of the BatchRecommender.

The ranking is the TopKEvaluator's, from the same recommender core: the
catalog of the train and eval splits (recommender.catalog.build_catalog),
every user of either split, the pool of each user's catalog movies not
rated in the train split (recommender.pool), the model's unclipped score
(recommender.scoring.ModelScorer) and its order, ties to the smaller movie
id (recommender.metrics.top_k_per_user).

Beam gets one element per user shard; each worker loads the model once and
writes its shard's rows to two part files in the temp dir, named by the
shard's index (a retried shard rewrites the same names). The executor then
joins the parts in shard order (users ascending) under temporary names in
the output folder and renames them: no reader sees a half-written file.
"""
import json
import os
from typing import Callable, Dict, List, NamedTuple, Optional

import apache_beam as beam
import numpy as np
import pandas as pd
import tensorflow as tf

from recommender import metrics, pool
from recommender.catalog import Catalog, build_catalog
from recommender.scoring import ModelScorer
import movielens_features as features

CSV_FILE = "recommendations.csv"
TFRECORD_FILE = "recommendations.tfrecord"
RANK_KEY = "rank"
# The items file's title column (movielens_data.output.TITLE_KEY).
TITLE_KEY = "title"
# The model's unclipped score, the one the ranks order.
SCORE_KEY = "score"
# One row per recommendation, in the CSV and as one tf.Example each.
COLUMNS = (features.USER_KEY, RANK_KEY, features.ITEM_KEY, TITLE_KEY,
           features.GENRES_KEY, SCORE_KEY)
# Written under this prefix and renamed once whole.
PARTIAL_PREFIX = ".partial-"
_PARTS_DIR = "recommendation_parts"
_COUNTS_FILE = "counts"


class Items(NamedTuple):
    """The catalog and each movie's title, aligned ("" when unknown)."""
    catalog: Catalog
    titles: np.ndarray  # object array of str


class Summary(NamedTuple):
    """What a batch of recommendations holds."""
    users: int  # users with at least one recommendation
    rows: int
    shards: int


# ------------------------------------------------------------- titles


def read_titles(path: str) -> Dict[int, str]:
    """item_id -> title from an items CSV (item_id,title,genres, as the data
    command writes it beside the data folder); a file without those
    columns or with an id that is not an integer is refused by name."""
    try:
        with tf.io.gfile.GFile(path) as handle:
            items = pd.read_csv(handle, dtype=str, keep_default_na=False)
    except (OSError, ValueError, tf.errors.OpError) as error:
        raise ValueError(f"cannot read the items file {path}: {error}"
                         ) from error
    missing = [name for name in (features.ITEM_KEY, TITLE_KEY)
               if name not in items.columns]
    if missing:
        raise ValueError(f"the items file {path} has no column(s) {missing} "
                         f"(it has {list(items.columns)})")
    ids = pd.to_numeric(items[features.ITEM_KEY], errors="coerce")
    bad = (ids.isna() | (ids != ids.round())).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"the items file {path}, line {row + 2}: {features.ITEM_KEY} "
            f"{items[features.ITEM_KEY].iloc[row]!r} is not an integer")
    return dict(zip(ids.astype(np.int64).tolist(),
                    items[TITLE_KEY].tolist()))


def find_titles(items_path: str) -> Optional[str]:
    """items_path if that file exists, else None (the data came without
    titles: the title column stays empty)."""
    if items_path and tf.io.gfile.exists(items_path):
        return items_path
    return None


def with_titles(catalog: Catalog, titles: Optional[Dict[int, str]]
                ) -> Items:
    """The catalog with its movies' titles ("" for a movie without one)."""
    aligned = np.empty(len(catalog.item_ids), dtype=object)
    aligned[:] = [(titles or {}).get(item, "")
                  for item in catalog.item_ids.tolist()]
    return Items(catalog, aligned)


# ------------------------------------------------------------ ranking


def recommend_shard(scorer: ModelScorer, items: Items,
                    shard: pool.UserShard, k: int) -> pd.DataFrame:
    """COLUMNS of the k best unseen movies of each user of the shard,
    ordered by user, then rank."""
    catalog = items.catalog
    users, cols = pool.candidate_pairs(shard, len(catalog.item_ids))
    movies = catalog.item_ids[cols]
    scores = scorer.predict(users, movies, catalog.genres[cols])[1]
    top = metrics.top_k_per_user(users, movies, scores, k)
    # candidate_pairs is row-major (user row, catalog column): its pair
    # keys are sorted, so each listed pair's score is a binary search away.
    num_items = len(catalog.item_ids)
    top_cols = np.searchsorted(catalog.item_ids, top.item_ids)
    pair_keys = np.searchsorted(shard.user_ids, users) * num_items + cols
    found = np.searchsorted(pair_keys, np.searchsorted(
        shard.user_ids, top.user_ids) * num_items + top_cols)
    return pd.DataFrame({
        features.USER_KEY: top.user_ids.astype(np.int64),
        RANK_KEY: top.ranks.astype(np.int64),
        features.ITEM_KEY: top.item_ids.astype(np.int64),
        TITLE_KEY: items.titles[top_cols].astype(str),
        features.GENRES_KEY: [_text(value)
                              for value in catalog.genres[top_cols]],
        SCORE_KEY: scores[found].astype(np.float32),
    }, columns=list(COLUMNS))


def to_examples(frame: pd.DataFrame) -> List[bytes]:
    """One serialized tf.Example per row, a value for every column (map
    keys sorted: the same bytes however the users were sharded)."""
    records = []
    for user, rank, item, title, genres, score in zip(
            *(frame[name].tolist() for name in COLUMNS)):
        feature = {
            features.USER_KEY: _int64(user), RANK_KEY: _int64(rank),
            features.ITEM_KEY: _int64(item),
            TITLE_KEY: _bytes(title), features.GENRES_KEY: _bytes(genres),
            SCORE_KEY: tf.train.Feature(
                float_list=tf.train.FloatList(value=[score])),
        }
        records.append(tf.train.Example(features=tf.train.Features(
            feature=feature)).SerializeToString(deterministic=True))
    return records


def part_path(parts_dir: str, index: int, file_name: str) -> str:
    return os.path.join(parts_dir, f"{index:05d}-{file_name}")


def write_part(parts_dir: str, index: int, frame: pd.DataFrame) -> None:
    """A shard's rows: CSV lines without the header, and TFRecords."""
    with tf.io.gfile.GFile(part_path(parts_dir, index, CSV_FILE), "w") as out:
        out.write(frame.to_csv(index=False, header=False,
                               lineterminator="\n"))
    with tf.io.TFRecordWriter(part_path(parts_dir, index,
                                        TFRECORD_FILE)) as writer:
        for record in to_examples(frame):
            writer.write(record)


class RecommendShard(beam.DoFn):
    """(shard index, UserShard) -> its part files; yields the shard's
    counts."""

    def __init__(self, model_dir: str, k: int, parts_dir: str):
        self._model_dir = model_dir
        self._k = k
        self._parts_dir = parts_dir
        self._scorer: Optional[ModelScorer] = None

    def setup(self):
        self._scorer = ModelScorer(self._model_dir)

    def process(self, element, items: Items):
        index, shard = element
        frame = recommend_shard(self._scorer, items, shard, self._k)
        write_part(self._parts_dir, index, frame)
        yield {"shard": index, "rows": len(frame),
               "users": int(frame[features.USER_KEY].nunique())}


def rank_to_parts(make_pipeline: Callable[[], beam.Pipeline],
                  shards: List[pool.UserShard], items: Items, model_dir: str,
                  k: int, parts_dir: str) -> List[Dict[str, int]]:
    """Runs the Beam job; each shard's counts."""
    tf.io.gfile.makedirs(parts_dir)
    counts_path = os.path.join(parts_dir, _COUNTS_FILE)
    with make_pipeline() as pipeline:
        items_view = beam.pvalue.AsSingleton(
            pipeline | "Items" >> beam.Create([items]))
        _ = (pipeline
             | "Shards" >> beam.Create(list(enumerate(shards)))
             # One shard per worker task: shards are the unit of parallelism.
             | "Spread" >> beam.Reshuffle()
             | "Recommend" >> beam.ParDo(
                 RecommendShard(model_dir, k, parts_dir), items_view)
             | "ToJson" >> beam.Map(json.dumps)
             | "Write" >> beam.io.WriteToText(counts_path,
                                              shard_name_template=""))
    with tf.io.gfile.GFile(counts_path) as handle:
        return [json.loads(line) for line in handle]


def publish(parts_dir: str, num_shards: int, output_dir: str) -> None:
    """Joins the parts in shard order into CSV_FILE (with its header) and
    TFRECORD_FILE (TFRecord files concatenate) in output_dir, each under
    PARTIAL_PREFIX first, renamed once whole."""
    header = pd.DataFrame(columns=list(COLUMNS)).to_csv(
        index=False, lineterminator="\n").encode()
    tf.io.gfile.makedirs(output_dir)
    for name, first in ((TFRECORD_FILE, b""), (CSV_FILE, header)):
        temp = os.path.join(output_dir, PARTIAL_PREFIX + name)
        try:
            with tf.io.gfile.GFile(temp, "wb") as out:
                out.write(first)
                for index in range(num_shards):
                    with tf.io.gfile.GFile(part_path(parts_dir, index, name),
                                           "rb") as part:
                        out.write(part.read())
            tf.io.gfile.rename(temp, os.path.join(output_dir, name),
                               overwrite=True)
        finally:
            if tf.io.gfile.exists(temp):
                tf.io.gfile.remove(temp)


def recommend(train: pd.DataFrame, eval_: pd.DataFrame, model_dir: str,
              k: int, titles: Optional[Dict[int, str]],
              make_pipeline: Callable[[], beam.Pipeline], tmp_dir: str,
              output_dir: str,
              max_pairs_per_shard: int = pool.DEFAULT_MAX_PAIRS_PER_SHARD
              ) -> Summary:
    """Writes CSV_FILE and TFRECORD_FILE of every user's top k into
    output_dir (the TopKEvaluator's users, pool and order); titles may be
    None (empty titles)."""
    catalog = build_catalog(train, eval_)
    shards = list(pool.make_shards(train, eval_, catalog,
                                   max_pairs_per_shard))
    parts_dir = os.path.join(tmp_dir, _PARTS_DIR)
    counts = rank_to_parts(make_pipeline, shards,
                           with_titles(catalog, titles), model_dir, k,
                           parts_dir)
    publish(parts_dir, len(shards), output_dir)
    tf.io.gfile.rmtree(parts_dir)
    return Summary(users=sum(c["users"] for c in counts),
                   rows=sum(c["rows"] for c in counts), shards=len(shards))


def _int64(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _bytes(text: str) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[text.encode("utf-8")]))


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
