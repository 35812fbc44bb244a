"""The top-k evaluation: rating metrics on the eval split, ranking metrics
over the whole unseen pool for the model, the baseline model and a
popularity ranker.

Ranking runs in Beam, one element per user shard: each worker loads the
model once, scores its shard's pool in large batches and reduces it to
additive RankingSums, which Beam sums per ranker.
"""
import dataclasses
import json
import os
import time
from typing import Callable, Dict, List, Optional

import apache_beam as beam
import numpy as np
import pandas as pd
import tensorflow as tf

from components.topk_evaluator import metrics, pool
from components.topk_evaluator.data import Catalog, build_catalog
from components.topk_evaluator.scoring import ModelScorer
from trainer_module import features

POPULARITY = "popularity"
MODEL = "model"
BASELINE = "baseline"


class RankShard(beam.DoFn):
    """UserShard -> (ranker name, RankingSums) for every ranker."""

    def __init__(self, model_dirs: Dict[str, str], k: int):
        self._model_dirs = model_dirs
        self._k = k
        self._scorers: Dict[str, ModelScorer] = {}

    def setup(self):
        self._scorers = {name: ModelScorer(path)
                         for name, path in self._model_dirs.items()}

    def process(self, shard: pool.UserShard, catalog: Catalog):
        users, cols = pool.candidate_pairs(shard, len(catalog.item_ids))
        items = catalog.item_ids[cols]
        rankers = {POPULARITY: catalog.train_counts[cols].astype(np.float64)}
        for name, scorer in self._scorers.items():
            rankers[name] = scorer.predict(users, items, catalog.genres[cols])[1]
        for name, scores in rankers.items():
            top = metrics.top_k_per_user(users, items, scores, self._k)
            yield name, metrics.ranking_partial_sums(
                top, shard.truth_user_ids, shard.truth_item_ids)


def rank_pool(make_pipeline: Callable[[], beam.Pipeline],
              shards: List[pool.UserShard], catalog: Catalog,
              model_dirs: Dict[str, str], k: int, tmp_dir: str
              ) -> Dict[str, metrics.RankingSums]:
    """Runs the Beam ranking and returns the summed RankingSums per ranker."""
    result_path = os.path.join(tmp_dir, "ranking_sums")
    with make_pipeline() as pipeline:
        catalog_view = beam.pvalue.AsSingleton(
            pipeline | "Catalog" >> beam.Create([catalog]))
        _ = (pipeline
             | "Shards" >> beam.Create(shards)
             # One shard per worker task: shards are the unit of parallelism.
             | "Spread" >> beam.Reshuffle()
             | "RankShards" >> beam.ParDo(RankShard(model_dirs, k),
                                          catalog_view)
             | "SumPerRanker" >> beam.CombinePerKey(
                 metrics.combine_ranking_sums)
             | "ToJson" >> beam.MapTuple(lambda name, sums: json.dumps(
                 {"ranker": name, **dataclasses.asdict(sums)}))
             | "Write" >> beam.io.WriteToText(result_path,
                                              shard_name_template=""))
    # GFile: the temp dir is under the pipeline root, possibly gs://.
    with tf.io.gfile.GFile(result_path) as handle:
        rows = [json.loads(line) for line in handle]
    return {row.pop("ranker"): metrics.RankingSums(**row) for row in rows}


def rating_metrics_for(model_dir: str, eval_: pd.DataFrame) -> Dict[str, float]:
    """rmse, mae, rsquared, exp_var of the model's ratings on eval rows."""
    predictions, _ = ModelScorer(model_dir).predict(
        eval_[features.USER_KEY].to_numpy(np.int64),
        eval_[features.ITEM_KEY].to_numpy(np.int64),
        eval_[features.GENRES_KEY].to_numpy(object))
    return metrics.rating_metrics_from_arrays(
        eval_[features.LABEL_KEY].to_numpy(np.float64),
        predictions.astype(np.float64))


def evaluate(train: pd.DataFrame, eval_: pd.DataFrame, model_dir: str,
             baseline_dir: Optional[str], k: int,
             make_pipeline: Callable[[], beam.Pipeline], tmp_dir: str,
             max_pairs_per_shard: int = pool.DEFAULT_MAX_PAIRS_PER_SHARD
             ) -> Dict:
    """All metrics of the model, the baseline (if any) and popularity."""
    catalog = build_catalog(train, eval_)
    model_dirs = {MODEL: model_dir}
    if baseline_dir:
        model_dirs[BASELINE] = baseline_dir
    shards = list(pool.make_shards(train, eval_, catalog, max_pairs_per_shard))
    started = time.time()
    sums = rank_pool(make_pipeline, shards, catalog, model_dirs, k, tmp_dir)
    ranking_seconds = time.time() - started
    pairs = pool.pool_size(train, eval_, catalog)
    result = {
        "k": k,
        "pool": {"users": int(len(pool.all_users(train, eval_))),
                 "items": int(len(catalog.item_ids)), "pairs": int(pairs),
                 "shards": len(shards)},
        "timing": {
            "ranking_seconds": round(ranking_seconds, 2),
            # Every ranker scores the same pool; model rankers dominate.
            "model_pairs_scored": int(pairs * len(model_dirs)),
            "pairs_per_second": round(pairs * len(model_dirs)
                                      / max(ranking_seconds, 1e-9)),
        },
        POPULARITY: metrics.finalize_ranking_metrics(sums[POPULARITY]),
    }
    for name, path in model_dirs.items():
        result[name] = {**rating_metrics_for(path, eval_),
                        **metrics.finalize_ranking_metrics(sums[name])}
    return result
