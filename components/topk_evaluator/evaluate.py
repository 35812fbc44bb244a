"""The top-k evaluation: rating metrics on the eval split, ranking metrics
over the whole unseen pool for the model, the baseline model, a
popularity ranker and, when ease_l2 > 0, an EASE ranker (recommender/ease.py,
fitted on the train split here, before the Beam job), and every ranker's
beyond-accuracy metrics at k (recommender/beyond_accuracy.py).

Ranking runs in Beam, one element per user shard: each worker loads the
models (and EASE's weights, and the train matrix the item similarities
come from) once, scores its shard's pool in large batches and reduces it
to additive RankingSums and BeyondAccuracySums, which Beam sums per ranker.
"""
import dataclasses
import io
import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import apache_beam as beam
import numpy as np
import pandas as pd
import scipy.sparse
import tensorflow as tf

from recommender import beyond_accuracy, ease, metrics, pool
from recommender.catalog import Catalog, build_catalog
from recommender.scoring import ModelScorer
import movielens_features as features

# Ranking metrics are also reported at every cutoff 1..CURVE_MAX_K (the
# report plots precision@k and recall@k against k).
CURVE_MAX_K = 20
POPULARITY = "popularity"
MODEL = "model"
BASELINE = "baseline"
# EASE alone (ease_l2 > 0): a reference ranker, never part of the blessing.
EASE = "ease"
EASE_WEIGHTS_FILE = "ease_weights.npy"
# metrics.json's key of every ranker's beyond-accuracy metrics at k, and the
# train matrix their item similarities come from, as workers load it.
BEYOND_ACCURACY = "beyond_accuracy"
TRAIN_MATRIX_FILE = "train_matrix.npz"


# Time spent inside the models' scoring calls, summed over shards: how fast
# scoring itself is, apart from the rest of the ranking.
_SCORING_MICROSECONDS = beam.metrics.Metrics.counter(
    "TopKEvaluator", "model_scoring_microseconds")
# Time spent in the beyond-accuracy sums, summed over shards.
_BEYOND_MICROSECONDS = beam.metrics.Metrics.counter(
    "TopKEvaluator", "beyond_accuracy_microseconds")


class RankShard(beam.DoFn):
    """UserShard -> ((ranker, cutoff), RankingSums) for every ranker and
    every cutoff in `cutoffs` (the top-k lists of one ranking, truncated).
    With `ease_path` (EASE's B, save_ease_weights), EASE ranks the same
    pool too. With `beyond` ((k, save_train_matrix's path)), also
    ((ranker, BEYOND_ACCURACY), BeyondAccuracySums) of each top-k list."""

    def __init__(self, model_dirs: Dict[str, str], cutoffs: List[int],
                 ease_path: Optional[str] = None,
                 beyond: Optional[Tuple[int, str]] = None):
        self._model_dirs = model_dirs
        self._cutoffs = sorted(set(cutoffs) | ({beyond[0]} if beyond
                                               else set()))
        self._ease_path = ease_path
        self._beyond = beyond
        self._scorers: Dict[str, ModelScorer] = {}
        self._ease_weights: Optional[np.ndarray] = None
        self._cooccurrence: Optional[beyond_accuracy.Cooccurrence] = None

    def setup(self):
        self._scorers = {name: ModelScorer(path)
                         for name, path in self._model_dirs.items()}
        if self._ease_path:
            self._ease_weights = load_ease_weights(self._ease_path)
        if self._beyond:
            self._cooccurrence = beyond_accuracy.Cooccurrence(
                load_train_matrix(self._beyond[1]))

    def process(self, shard: pool.UserShard, catalog: Catalog):
        users, cols = pool.candidate_pairs(shard, len(catalog.item_ids))
        items = catalog.item_ids[cols]
        rankers = {POPULARITY: catalog.train_counts[cols].astype(np.float64)}
        if self._ease_weights is not None:
            rankers[EASE] = ease.shard_scores(self._ease_weights, shard,
                                              users, cols)
        for name, scorer in self._scorers.items():
            started = time.perf_counter()
            rankers[name] = scorer.predict(users, items, catalog.genres[cols])[1]
            _SCORING_MICROSECONDS.inc(
                int((time.perf_counter() - started) * 1e6))
        history = (ease.rated_rows(shard.seen_rows, shard.seen_cols,
                                   len(shard.user_ids),
                                   len(catalog.item_ids))
                   if self._beyond else None)
        for name, scores in rankers.items():
            top = metrics.top_k_per_user(users, items, scores,
                                         self._cutoffs[-1])
            for cutoff in self._cutoffs:
                yield (name, cutoff), metrics.ranking_partial_sums(
                    truncate(top, cutoff), shard.truth_user_ids,
                    shard.truth_item_ids)
            if self._beyond:
                yield (name, BEYOND_ACCURACY), self._beyond_sums(
                    truncate(top, self._beyond[0]), shard, catalog, history)

    def _beyond_sums(self, top: metrics.TopK, shard: pool.UserShard,
                     catalog: Catalog, history: scipy.sparse.csr_matrix
                     ) -> beyond_accuracy.BeyondAccuracySums:
        """The top-k lists' sums; `history`: the shard users' train items."""
        started = time.perf_counter()
        sums = beyond_accuracy.shard_sums(
            np.searchsorted(shard.user_ids, top.user_ids),
            np.searchsorted(catalog.item_ids, top.item_ids), history,
            self._cooccurrence)
        _BEYOND_MICROSECONDS.inc(int((time.perf_counter() - started) * 1e6))
        return sums


def truncate(top: metrics.TopK, k: int) -> metrics.TopK:
    """The top-k lists within longer ones (ties are broken the same way)."""
    keep = top.ranks <= k
    return metrics.TopK(top.user_ids[keep], top.item_ids[keep],
                        top.ranks[keep], k)


def save_ease_weights(weights: np.ndarray, tmp_dir: str) -> str:
    """Writes EASE's B where every worker can read it (the temp dir, maybe
    gs://); returns its path. Workers load it in setup, as they load the
    models: an items x items array stays out of the pipeline graph."""
    path = os.path.join(tmp_dir, EASE_WEIGHTS_FILE)
    buffer = io.BytesIO()
    np.save(buffer, weights)
    tf.io.gfile.makedirs(tmp_dir)
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return path


def load_ease_weights(path: str) -> np.ndarray:
    with tf.io.gfile.GFile(path, "rb") as handle:
        return np.load(io.BytesIO(handle.read()))


def save_train_matrix(train: pd.DataFrame, catalog: Catalog,
                      tmp_dir: str) -> str:
    """Writes the train split's 0/1 users x catalog items matrix (sparse:
    its CSR arrays) where every worker can read it; returns its path. Each
    worker's item similarities come from it (every train row, also when
    only a sample of users is ranked)."""
    matrix = beyond_accuracy.train_matrix(
        train[features.USER_KEY].to_numpy(np.int64),
        np.searchsorted(catalog.item_ids,
                        train[features.ITEM_KEY].to_numpy(np.int64)),
        len(catalog.item_ids))
    path = os.path.join(tmp_dir, TRAIN_MATRIX_FILE)
    buffer = io.BytesIO()
    np.savez(buffer, indptr=matrix.indptr, indices=matrix.indices,
             shape=np.array(matrix.shape))
    tf.io.gfile.makedirs(tmp_dir)
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return path


def load_train_matrix(path: str) -> scipy.sparse.csr_matrix:
    with tf.io.gfile.GFile(path, "rb") as handle:
        arrays = np.load(io.BytesIO(handle.read()))
        indices = arrays["indices"]
        return scipy.sparse.csr_matrix(
            (np.ones(indices.size, np.float32), indices, arrays["indptr"]),
            shape=tuple(arrays["shape"]))


def rank_pool(make_pipeline: Callable[[], beam.Pipeline],
              shards: List[pool.UserShard], catalog: Catalog,
              model_dirs: Dict[str, str], cutoffs: List[int], tmp_dir: str,
              ease_path: Optional[str] = None,
              beyond: Optional[Tuple[int, str]] = None
              ) -> Tuple[Dict[Tuple[str, Any], Any], Dict[str, float]]:
    """Runs the Beam ranking: the summed RankingSums per (ranker, cutoff)
    and, with `beyond` (RankShard's), BeyondAccuracySums per (ranker,
    BEYOND_ACCURACY); and the seconds of the timed steps (model scoring,
    beyond-accuracy sums) the runner reports."""
    result_path = os.path.join(tmp_dir, "ranking_sums")
    with make_pipeline() as pipeline:
        catalog_view = beam.pvalue.AsSingleton(
            pipeline | "Catalog" >> beam.Create([catalog]))
        _ = (pipeline
             | "Shards" >> beam.Create(shards)
             # One shard per worker task: shards are the unit of parallelism.
             | "Spread" >> beam.Reshuffle()
             | "RankShards" >> beam.ParDo(
                 RankShard(model_dirs, cutoffs, ease_path, beyond),
                 catalog_view)
             # Both kinds of sums add with +.
             | "SumPerRanker" >> beam.CombinePerKey(
                 metrics.combine_ranking_sums)
             | "ToJson" >> beam.MapTuple(_sums_json)
             | "Write" >> beam.io.WriteToText(result_path,
                                              shard_name_template=""))
    # GFile: the temp dir is under the pipeline root, possibly gs://.
    with tf.io.gfile.GFile(result_path) as handle:
        sums = dict(_sums_from_json(line) for line in handle)
    return sums, _counter_seconds(pipeline.result)


def _sums_json(key: Tuple[str, Any], sums) -> str:
    if key[1] == BEYOND_ACCURACY:
        return json.dumps({"ranker": key[0],
                           BEYOND_ACCURACY: sums.as_dict()})
    return json.dumps({"ranker": key[0], **dataclasses.asdict(sums)})


def _sums_from_json(line: str) -> Tuple[Tuple[str, Any], Any]:
    row = json.loads(line)
    ranker = row.pop("ranker")
    if BEYOND_ACCURACY in row:
        return (ranker, BEYOND_ACCURACY), \
            beyond_accuracy.BeyondAccuracySums.from_dict(row[BEYOND_ACCURACY])
    return (ranker, row["k"]), metrics.RankingSums(**row)


def _counter_seconds(result: beam.runners.runner.PipelineResult
                     ) -> Dict[str, float]:
    """{"scoring_seconds": ..., "beyond_accuracy_seconds": ...} of the
    counters the runner reports (none where it reports no metrics)."""
    names = {"model_scoring_microseconds": "scoring_seconds",
             "beyond_accuracy_microseconds": "beyond_accuracy_seconds"}
    seconds = {}
    for counter, name in names.items():
        try:
            counters = result.metrics().query(
                beam.metrics.MetricsFilter().with_name(counter))
            total = sum(c.committed for c in counters["counters"]) / 1e6
        except (NotImplementedError, KeyError, TypeError):
            continue
        if total:
            seconds[name] = total
    return seconds


def rating_metrics_for(model_dir: str, eval_: pd.DataFrame) -> Dict[str, float]:
    """rmse, mae, rsquared, exp_var of the model's ratings on eval rows."""
    predictions, _ = ModelScorer(model_dir).predict(
        eval_[features.USER_KEY].to_numpy(np.int64),
        eval_[features.ITEM_KEY].to_numpy(np.int64),
        eval_[features.GENRES_KEY].to_numpy(object))
    return metrics.rating_metrics_from_arrays(
        eval_[features.LABEL_KEY].to_numpy(np.float64),
        predictions.astype(np.float64))


def fit_ease(train: pd.DataFrame, catalog: Catalog, l2: float
             ) -> np.ndarray:
    """EASE's B over the catalog's items (columns) from the train split's
    (user, item) pairs."""
    return ease.fit(train[features.USER_KEY].to_numpy(np.int64),
                    np.searchsorted(catalog.item_ids,
                                    train[features.ITEM_KEY].to_numpy(
                                        np.int64)),
                    len(catalog.item_ids), l2)


def evaluate(train: pd.DataFrame, eval_: pd.DataFrame, model_dir: str,
             baseline_dir: Optional[str], k: int,
             make_pipeline: Callable[[], beam.Pipeline], tmp_dir: str,
             max_pairs_per_shard: int = pool.DEFAULT_MAX_PAIRS_PER_SHARD,
             rating_metrics: bool = True, ease_l2: float = 0.0,
             sample_users: int = 0, sample_seed: int = 0) -> Dict:
    """All metrics of the model, the baseline (if any), popularity and,
    when ease_l2 > 0, EASE with that L2 strength; rating metrics only when
    the models predict ratings; result[BEYOND_ACCURACY][ranker]: the
    beyond-accuracy metrics of every ranker's top-k lists (never blessing).

    sample_users > 0: only a seeded sample of that many users' pools is
    ranked (the catalog, popularity and EASE still come from every train
    row), and result["sample"] gives each ranker's 95 % confidence
    intervals."""
    catalog = build_catalog(train, eval_)
    model_dirs = {MODEL: model_dir}
    if baseline_dir:
        model_dirs[BASELINE] = baseline_dir
    population = len(pool.all_users(train, eval_))
    ranked_train, ranked_eval = pool.sample_users(train, eval_, sample_users,
                                                  sample_seed)
    shards = list(pool.make_shards(ranked_train, ranked_eval, catalog,
                                   max_pairs_per_shard))
    cutoffs = sorted(set(range(1, CURVE_MAX_K + 1)) | {k})
    ease_path, ease_seconds = None, None
    if ease_l2 > 0:
        started = time.time()
        ease_path = save_ease_weights(fit_ease(train, catalog, ease_l2),
                                      tmp_dir)
        ease_seconds = time.time() - started
    started = time.time()
    beyond = (k, save_train_matrix(train, catalog, tmp_dir))
    sums, seconds = rank_pool(make_pipeline, shards, catalog, model_dirs,
                              cutoffs, tmp_dir, ease_path, beyond)
    ranking_seconds = time.time() - started
    scoring_seconds = seconds.get("scoring_seconds")
    simple_rankers = [POPULARITY] + ([EASE] if ease_path else [])
    pairs = pool.pool_size(ranked_train, ranked_eval, catalog)
    scored = pairs * len(model_dirs)
    ranked_users = len(pool.all_users(ranked_train, ranked_eval))
    result = {
        "k": k,
        "pool": {"users": int(ranked_users),
                 "items": int(len(catalog.item_ids)), "pairs": int(pairs),
                 "shards": len(shards)},
        "timing": {
            "ranking_seconds": round(ranking_seconds, 2),
            # Every ranker scores the same pool; model rankers dominate.
            "model_pairs_scored": int(scored),
            # The whole ranking: Beam, model loading, scoring, top-k lists
            # and metrics at every cutoff.
            "pairs_per_second": round(scored / max(ranking_seconds, 1e-9)),
            # The models' scoring calls alone.
            **({"scoring_seconds": round(scoring_seconds, 2),
                "scoring_pairs_per_second": round(
                    scored / max(scoring_seconds, 1e-9))}
               if scoring_seconds else {}),
            # Fitting EASE's B on the train split, before the ranking.
            **({"ease_fit_seconds": round(ease_seconds, 2)}
               if ease_path else {}),
            # The beyond-accuracy sums of every shard, inside the ranking.
            **({"beyond_accuracy_seconds": round(
                seconds["beyond_accuracy_seconds"], 2)}
               if "beyond_accuracy_seconds" in seconds else {}),
        },
        **{name: metrics.finalize_ranking_metrics(sums[name, k])
           for name in simple_rankers},
        **({"ease_l2": float(ease_l2)} if ease_path else {}),
        "curves": {name: curve(sums, name, range(1, CURVE_MAX_K + 1))
                   for name in [*simple_rankers, *model_dirs]},
    }
    for name, path in model_dirs.items():
        result[name] = {
            **(rating_metrics_for(path, eval_) if rating_metrics else {}),
            **metrics.finalize_ranking_metrics(sums[name, k])}
    # Novelty and coverage against every train row, as the similarities.
    result[BEYOND_ACCURACY] = {
        name: beyond_accuracy.finalize(sums[name, BEYOND_ACCURACY],
                                       catalog.train_counts)
        for name in [*model_dirs, *simple_rankers]}
    if ranked_users < population:
        result["sample"] = {
            "users": int(ranked_users), "of_users": int(population),
            "seed": int(sample_seed), "confidence": 0.95,
            "intervals": {
                name: {metric: [round(bound, 6) for bound in bounds]
                       for metric, bounds in metrics.confidence_intervals(
                           sums[name, k], population).items()}
                for name in [*simple_rankers, *model_dirs]}}
    return result


def curve(sums: Dict[Tuple[str, int], metrics.RankingSums], ranker: str,
          cutoffs) -> Dict[str, List[float]]:
    """{"k": [1, 2, ...], "precision@k": [...], ...} of one ranker."""
    points = [metrics.finalize_ranking_metrics(sums[ranker, k])
              for k in cutoffs]
    return {"k": list(cutoffs),
            **{name: [round(p[name], 6) for p in points]
               for name in ("precision@k", "recall@k", "ndcg@k")}}
