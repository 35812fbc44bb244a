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
from typing import Callable, Dict, List, Optional, Tuple

import apache_beam as beam
import numpy as np
import pandas as pd
import tensorflow as tf

from recommender import metrics, pool
from recommender.catalog import Catalog, build_catalog
from recommender.scoring import ModelScorer
from trainer_module import features

# Ranking metrics are also reported at every cutoff 1..CURVE_MAX_K (the
# report plots precision@k and recall@k against k).
CURVE_MAX_K = 20
POPULARITY = "popularity"
MODEL = "model"
BASELINE = "baseline"


# Time spent inside the models' scoring calls, summed over shards: how fast
# scoring itself is, apart from the rest of the ranking.
_SCORING_MICROSECONDS = beam.metrics.Metrics.counter(
    "TopKEvaluator", "model_scoring_microseconds")


class RankShard(beam.DoFn):
    """UserShard -> ((ranker, cutoff), RankingSums) for every ranker and
    every cutoff in `cutoffs` (the top-k lists of one ranking, truncated)."""

    def __init__(self, model_dirs: Dict[str, str], cutoffs: List[int]):
        self._model_dirs = model_dirs
        self._cutoffs = sorted(set(cutoffs))
        self._scorers: Dict[str, ModelScorer] = {}

    def setup(self):
        self._scorers = {name: ModelScorer(path)
                         for name, path in self._model_dirs.items()}

    def process(self, shard: pool.UserShard, catalog: Catalog):
        users, cols = pool.candidate_pairs(shard, len(catalog.item_ids))
        items = catalog.item_ids[cols]
        rankers = {POPULARITY: catalog.train_counts[cols].astype(np.float64)}
        for name, scorer in self._scorers.items():
            started = time.perf_counter()
            rankers[name] = scorer.predict(users, items, catalog.genres[cols])[1]
            _SCORING_MICROSECONDS.inc(
                int((time.perf_counter() - started) * 1e6))
        for name, scores in rankers.items():
            top = metrics.top_k_per_user(users, items, scores,
                                         self._cutoffs[-1])
            for cutoff in self._cutoffs:
                yield (name, cutoff), metrics.ranking_partial_sums(
                    truncate(top, cutoff), shard.truth_user_ids,
                    shard.truth_item_ids)


def truncate(top: metrics.TopK, k: int) -> metrics.TopK:
    """The top-k lists within longer ones (ties are broken the same way)."""
    keep = top.ranks <= k
    return metrics.TopK(top.user_ids[keep], top.item_ids[keep],
                        top.ranks[keep], k)


def rank_pool(make_pipeline: Callable[[], beam.Pipeline],
              shards: List[pool.UserShard], catalog: Catalog,
              model_dirs: Dict[str, str], cutoffs: List[int], tmp_dir: str
              ) -> Tuple[Dict[Tuple[str, int], metrics.RankingSums],
                         Optional[float]]:
    """Runs the Beam ranking: the summed RankingSums per (ranker, cutoff),
    and the seconds spent in model scoring calls (None where the runner
    reports no metrics)."""
    result_path = os.path.join(tmp_dir, "ranking_sums")
    with make_pipeline() as pipeline:
        catalog_view = beam.pvalue.AsSingleton(
            pipeline | "Catalog" >> beam.Create([catalog]))
        _ = (pipeline
             | "Shards" >> beam.Create(shards)
             # One shard per worker task: shards are the unit of parallelism.
             | "Spread" >> beam.Reshuffle()
             | "RankShards" >> beam.ParDo(RankShard(model_dirs, cutoffs),
                                          catalog_view)
             | "SumPerRanker" >> beam.CombinePerKey(
                 metrics.combine_ranking_sums)
             | "ToJson" >> beam.MapTuple(lambda key, sums: json.dumps(
                 {"ranker": key[0], **dataclasses.asdict(sums)}))
             | "Write" >> beam.io.WriteToText(result_path,
                                              shard_name_template=""))
    # GFile: the temp dir is under the pipeline root, possibly gs://.
    with tf.io.gfile.GFile(result_path) as handle:
        rows = [json.loads(line) for line in handle]
    sums = {(row.pop("ranker"), row["k"]): metrics.RankingSums(**row)
            for row in rows}
    return sums, _scoring_seconds(pipeline.result)


def _scoring_seconds(result: beam.runners.runner.PipelineResult
                     ) -> Optional[float]:
    try:
        counters = result.metrics().query(beam.metrics.MetricsFilter()
                                          .with_name("model_scoring_microseconds"))
        return sum(c.committed for c in counters["counters"]) / 1e6
    except (NotImplementedError, KeyError, TypeError):
        return None


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
             max_pairs_per_shard: int = pool.DEFAULT_MAX_PAIRS_PER_SHARD,
             rating_metrics: bool = True) -> Dict:
    """All metrics of the model, the baseline (if any) and popularity;
    rating metrics only when the models predict ratings."""
    catalog = build_catalog(train, eval_)
    model_dirs = {MODEL: model_dir}
    if baseline_dir:
        model_dirs[BASELINE] = baseline_dir
    shards = list(pool.make_shards(train, eval_, catalog, max_pairs_per_shard))
    cutoffs = sorted(set(range(1, CURVE_MAX_K + 1)) | {k})
    started = time.time()
    sums, scoring_seconds = rank_pool(make_pipeline, shards, catalog,
                                      model_dirs, cutoffs, tmp_dir)
    ranking_seconds = time.time() - started
    pairs = pool.pool_size(train, eval_, catalog)
    scored = pairs * len(model_dirs)
    result = {
        "k": k,
        "pool": {"users": int(len(pool.all_users(train, eval_))),
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
        },
        POPULARITY: metrics.finalize_ranking_metrics(sums[POPULARITY, k]),
        "curves": {name: curve(sums, name, range(1, CURVE_MAX_K + 1))
                   for name in [POPULARITY, *model_dirs]},
    }
    for name, path in model_dirs.items():
        result[name] = {
            **(rating_metrics_for(path, eval_) if rating_metrics else {}),
            **metrics.finalize_ranking_metrics(sums[name, k])}
    return result


def curve(sums: Dict[Tuple[str, int], metrics.RankingSums], ranker: str,
          cutoffs) -> Dict[str, List[float]]:
    """{"k": [1, 2, ...], "precision@k": [...], ...} of one ranker."""
    points = [metrics.finalize_ranking_metrics(sums[ranker, k])
              for k in cutoffs]
    return {"k": list(cutoffs),
            **{name: [round(p[name], 6) for p in points]
               for name in ("precision@k", "recall@k", "ndcg@k")}}
