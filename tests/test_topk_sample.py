"""The TopKEvaluator on a seeded sample of users (sample_users > 0), on the
fixture of test_topk_ease.py (6 users, an oracle model, EASE with l2 2):
every user's sample is the full evaluation; a smaller one ranks exactly the
sampled users' pools, with EASE and popularity still fitted on every train
row, and reports an interval around each metric."""
import json

import apache_beam as beam
import pandas as pd
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from tfx.utils import path_utils

from components.topk_evaluator import evaluate, executor
from recommender import data, metrics, pool
# The same fixture data and its module fixtures (root, examples, oracle).
from test_topk_ease import (EVAL_ROWS, K, L2, PROPERTIES,  # noqa: F401
                            brute_force_pool, examples, oracle, root)
from topk_fixtures import ExecutorRun
from movielens_features import ITEM_KEY, LABEL_KEY, USER_KEY

RANKERS = (evaluate.MODEL, evaluate.POPULARITY, evaluate.EASE)


def _evaluate(root, examples, oracle, name, **options):
    tmp = root / name
    tmp.mkdir()
    return evaluate.evaluate(
        data.read_split(examples, "train"), data.read_split(examples, "eval"),
        path_utils.serving_model_path(oracle.uri), None, K,
        lambda: beam.Pipeline(options=PipelineOptions(
            ["--direct_running_mode=in_memory", "--direct_num_workers=1"])),
        str(tmp), rating_metrics=False, ease_l2=L2, **options)


def test_a_sample_of_every_user_is_the_full_evaluation(root, examples,
                                                       oracle):
    full = _evaluate(root, examples, oracle, "full")
    every = _evaluate(root, examples, oracle, "every", sample_users=6,
                      sample_seed=3)
    for ranker in RANKERS:
        assert every[ranker] == full[ranker]
        assert every["curves"][ranker] == full["curves"][ranker]
    assert every["pool"] == full["pool"]
    assert "sample" not in every and "sample" not in full


def test_a_sample_ranks_the_sampled_users_pools_only(root, examples, oracle):
    train = data.read_split(examples, "train")
    eval_ = data.read_split(examples, "eval")
    chosen = set(pool.all_users(*pool.sample_users(train, eval_, 3, 5)))
    result = _evaluate(root, examples, oracle, "three", sample_users=3,
                       sample_seed=5)
    assert result["pool"]["users"] == 3
    assert result["sample"]["users"] == 3
    assert result["sample"]["of_users"] == 6
    # EASE scores from every user's train rows, ranked for the sample only.
    scored = brute_force_pool()
    truth = pd.DataFrame([r[:3] for r in EVAL_ROWS],
                         columns=[USER_KEY, ITEM_KEY, LABEL_KEY])
    expected = metrics.ranking_metrics(
        truth[truth[USER_KEY].isin(chosen)],
        scored[scored[USER_KEY].isin(chosen)], K, col_prediction="score")
    for name, value in expected.items():
        assert result[evaluate.EASE][name] == pytest.approx(value), name
    assert result["pool"]["pairs"] == len(scored[scored[USER_KEY].isin(
        chosen)])
    for ranker in RANKERS:
        for name in metrics.RANKING_METRIC_NAMES:
            low, high = result["sample"]["intervals"][ranker][name]
            assert low <= result[ranker][name] + 1e-9
            assert high >= result[ranker][name] - 1e-9


def test_the_executor_says_the_sample_size_and_the_intervals(root, examples,
                                                            oracle):
    run = ExecutorRun(root, "executor", examples, oracle,
                      dict(PROPERTIES, sample_users=4, sample_seed=1))
    assert run.metrics["sample"]["users"] == 4
    assert ("ranked a seeded sample of 4 of 6 users (seed 1); 95 % "
            "confidence intervals:") in run.summary.splitlines()
    assert any(line.startswith("  ease: ndcg@2 [")
               for line in run.summary.splitlines())


@pytest.mark.parametrize("name, value", [("sample_users", -1),
                                         ("sample_users", 2.5),
                                         ("sample_seed", -3)])
def test_bad_sample_parameters_are_refused_by_name(name, value):
    properties = dict(PROPERTIES, sample_users=10, sample_seed=0)
    properties[name] = value
    with pytest.raises(ValueError, match=name):
        executor.parse_parameters(properties)


def test_the_component_leaves_the_sample_out_when_off():
    from tfx import types
    from tfx.types import standard_artifacts
    from components.topk_evaluator.component import TopKEvaluator

    def channel(kind):
        return types.Channel(type=kind)
    common = dict(examples=channel(standard_artifacts.Examples),
                  model=channel(standard_artifacts.Model), top_k=2)
    assert "sample_users" not in TopKEvaluator(**common).exec_properties
    sampled = TopKEvaluator(**common, sample_users=100, sample_seed=7)
    assert (sampled.exec_properties["sample_users"],
            sampled.exec_properties["sample_seed"]) == (100, 7)
    assert json.loads(sampled.exec_properties["min_thresholds"]) == {}
