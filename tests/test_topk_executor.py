"""TopKEvaluator's executor end to end on fake examples and fake models.

The fake models score (user, item) by a known table, so every metric is
checked twice: against a brute-force pandas pool scored by the same table
and ranked by metrics.ranking_metrics, and by hand.

Data (k = 2), 4 users x 6 items:
  train: u1: i1 i2 i6 | u2: i4 i6 | u3: i2 i5 i6        (8 pairs)
  eval:  u1: i3 i5    | u2: i1    | u3: i4  | u4: i2 i3
  u4 is only in eval, i3 only in eval; pool = 4 * 6 - 8 = 16 pairs.
  train counts (popularity): i1 1, i2 2, i3 0, i4 1, i5 1, i6 3.

Rankers (ties broken by item id ascending):
  MODEL   score 7 - item (prefers low ids; predictions clip(7 - item))
  WORSE   score item (prefers high ids)
  BETTER  score 10 on the eval pairs (an oracle), 7 - item elsewhere
"""
import json
import math
import os

import apache_beam as beam
import numpy as np
import pandas as pd
import pytest
import tensorflow_model_analysis as tfma
from apache_beam.options.pipeline_options import PipelineOptions
from tfx import types
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components.topk_evaluator import evaluate, executor
from components.topk_evaluator.component import TopKEvaluator
from recommender import data, metrics
from recommender import beyond_accuracy
from topk_fixtures import (ExecutorRun, make_model_artifact, rmse_key,
                           rows_frame, tfx_eval_config,
                           write_examples_artifact, write_tfma_validations)
from movielens_features import ITEM_KEY, LABEL_KEY, USER_KEY

K = 2
GENRES = {1: b"Comedy", 2: None, 3: b"Drama|War", 4: b"Action", 5: None,
          6: b"Horror"}


def _rows(triples, start):
    return [(user, item, rating, GENRES[item], start + n)
            for n, (user, item, rating) in enumerate(triples)]


TRAIN_ROWS = _rows([(1, 1, 5.0), (1, 2, 4.0), (1, 6, 3.0),
                    (2, 4, 4.0), (2, 6, 2.0),
                    (3, 2, 3.0), (3, 6, 4.0), (3, 5, 2.5)], 0)
EVAL_ROWS = _rows([(1, 3, 4.0), (1, 5, 2.0),
                   (2, 1, 5.0),
                   (3, 4, 3.5),
                   (4, 2, 1.0), (4, 3, 4.5)], 100)
USERS, ITEMS = [1, 2, 3, 4], [1, 2, 3, 4, 5, 6]

# Score tables indexed [user_id, item_id].
_U, _I = np.meshgrid(np.arange(5), np.arange(7), indexing="ij")
MODEL_TABLE = (7.0 - _I).astype(np.float32)
WORSE_TABLE = _I.astype(np.float32)
BETTER_TABLE = MODEL_TABLE.copy()
for _user, _item, *_ in EVAL_ROWS:
    BETTER_TABLE[_user, _item] = 10.0

LN2, LN3 = math.log(2), math.log(3)
IDCG2 = 1 / LN2 + 1 / LN3  # two relevant items, k = 2

# MODEL's top 2 per user:
#   u1 unseen {3,4,5} -> [3, 4]; truth {3,5}: hit at rank 1
#       p 1/2, r 1/2, ndcg (1/ln2)/IDCG2, AP numerator 1 -> AP 1/2
#   u2 unseen {1,2,3,5} -> [1, 2]; truth {1}: hit at rank 1
#       p 1/2, r 1, ndcg 1, AP 1
#   u3 unseen {1,3,4} -> [1, 3]; truth {4}: no hit -> all 0
#   u4 unseen {1..6} -> [1, 2]; truth {2,3}: hit at rank 2
#       p 1/2, r 1/2, ndcg (1/ln3)/IDCG2, AP numerator 1/2 -> AP 1/4
# ndcg: u1 + u4 = (1/ln2 + 1/ln3)/IDCG2 = 1, so (1 + 1 + 0) / 4 = 1/2.
HAND_MODEL = {"precision@k": 3 / 8, "recall@k": (0.5 + 1 + 0 + 0.5) / 4,
              "ndcg@k": 0.5, "map": (0.5 + 1 + 0 + 0.25) / 4,
              "map@k": (0.5 + 1 + 0 + 0.25) / 4, "num_users": 4}
# Popularity's top 2 (counts i1 1, i2 2, i3 0, i4 1, i5 1, i6 3):
#   u1 {3,4,5} -> [4, 5]: hit 5 at rank 2: p 1/2, r 1/2,
#       ndcg (1/ln3)/IDCG2, AP (1/2)/2 = 1/4
#   u2 {1,2,3,5} -> [2, 1]: hit 1 at rank 2: p 1/2, r 1,
#       ndcg (1/ln3)/(1/ln2) = ln2/ln3, AP 1/2
#   u3 {1,3,4} -> [1, 4]: hit 4 at rank 2: as u2
#   u4 {1..6} -> [6, 2]: hit 2 at rank 2: as u1
_POP_NDCG_2REL = (1 / LN3) / IDCG2
HAND_POPULARITY = {
    "precision@k": 0.5, "recall@k": (0.5 + 1 + 1 + 0.5) / 4,
    "ndcg@k": (2 * _POP_NDCG_2REL + 2 * LN2 / LN3) / 4,
    "map": (0.25 + 0.5 + 0.5 + 0.25) / 4,
    "map@k": (0.25 + 0.5 + 0.5 + 0.25) / 4, "num_users": 4}
# MODEL's predictions on the eval rows, clip(7 - item, 0.5, 5):
#   (1,3) 4 vs 4 | (1,5) 2 vs 2 | (2,1) 5 vs 5 | (3,4) 3 vs 3.5 |
#   (4,2) 5 vs 1 | (4,3) 4 vs 4.5
#   errors 0, 0, 0, 0.5, 4, 0.5 -> mse 16.5 / 6 = 2.75, mae 5 / 6
HAND_RATING = {"rmse": math.sqrt(2.75), "mae": 5 / 6}

# Beyond accuracy of the top-2 lists (recommender/beyond_accuracy.py):
#   train users per item n: i1 1, i2 2, i4 1, i5 1, i6 3 (i3 none), 8 rows
#   co-occurrence c: (1,2) 1, (1,6) 1, (2,6) 2, (4,6) 1, (2,5) 1, (5,6) 1
#   sim = c / sqrt(n_i n_j): (1,2) 1/R2, (1,6) 1/R3, (2,6) 2/R6, (4,6) 1/R3,
#       (2,5) 1/R2, (5,6) 1/R3; every other pair 0
# MODEL's lists u1 [3,4], u2 [1,2], u3 [1,3], u4 [1,2]: rows i1 3, i2 2,
#   i3 2, i4 1 of 8
#   catalog coverage {1,2,3,4} / 5 train items
#   distributional: -(3/8 log2(3/8) + 2 (2/8) log2(2/8) + 1/8 log2(1/8))
#   novelty, -log2(n / 8): i1 3, i2 2, i3 0 (no train row), i4 3:
#       (3*3 + 2*2 + 2*0 + 3) / 8 = 2
#   diversity: u1 1 - sim(3,4) = 1, u2 1 - 1/R2, u3 1, u4 1 - 1/R2
#   serendipity (u4 has no train item, left out):
#       u1 (train 1 2 6): i3 1, i4 1 - (0 + 0 + 1/R3)/3
#       u2 (train 4 6): i1 1 - (0 + 1/R3)/2, i2 1 - (0 + 2/R6)/2
#       u3 (train 2 5 6): i1 1 - (1/R2 + 0 + 1/R3)/3, i3 1
# POPULARITY's lists u1 [4,5], u2 [2,1], u3 [1,4], u4 [6,2]: rows i1 2,
#   i2 2, i4 2, i5 1, i6 1 of 8
#   catalog coverage 5 / 5; distributional 3 (1/4) 2 + 2 (1/8) 3 = 2.25
#   novelty (2*3 + 2*2 + 2*3 + 3 + log2(8/3)) / 8
#   diversity: u1 1 - sim(4,5) = 1, u2 1 - 1/R2, u3 1, u4 1 - 2/R6
#   serendipity: u1 (1 2 6): i4 1 - (1/R3)/3, i5 1 - (1/R2 + 1/R3)/3
#                u2 (4 6): i2 1 - (2/R6)/2, i1 1 - (1/R3)/2
#                u3 (2 5 6): i1 1 - (1/R2 + 1/R3)/3, i4 1 - (1/R3)/3
_R2, _R3, _R6 = math.sqrt(2), math.sqrt(3), math.sqrt(6)
HAND_BEYOND_MODEL = {
    "catalog_coverage": 4 / 5,
    "distributional_coverage": 3 / 8 * math.log2(8 / 3) + 1 + 3 / 8,
    "novelty": 2.0,
    "diversity": (4 - 2 / _R2) / 4,
    "serendipity": ((2 - 1 / (3 * _R3)) / 2
                    + (2 - 1 / (2 * _R3) - 1 / _R6) / 2
                    + (2 - (1 / _R2 + 1 / _R3) / 3) / 2) / 3}
_POP_U1 = (2 - 1 / (3 * _R3) - (1 / _R2 + 1 / _R3) / 3) / 2  # u3 alike
HAND_BEYOND_POPULARITY = {
    "catalog_coverage": 1.0,
    "distributional_coverage": 2.25,
    "novelty": (19 + math.log2(8 / 3)) / 8,
    "diversity": (4 - 1 / _R2 - 2 / _R6) / 4,
    "serendipity": (2 * _POP_U1 + (2 - 1 / _R6 - 1 / (2 * _R3)) / 2) / 3}

DEFAULTS = dict(top_k=K, min_thresholds="{}", max_thresholds="{}",
                baseline_metrics=json.dumps(["ndcg@k", "rmse"]),
                baseline_tolerance=0.0, train_split="train",
                eval_split="eval")


# -------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("topk_executor")


@pytest.fixture(scope="module")
def examples(root):
    return write_examples_artifact(root / "examples",
                                   {"train": TRAIN_ROWS, "eval": EVAL_ROWS})


@pytest.fixture(scope="module")
def model(root):
    return make_model_artifact(root / "model", MODEL_TABLE, 11)


@pytest.fixture(scope="module")
def worse_baseline(root):
    return make_model_artifact(root / "worse", WORSE_TABLE, 7)


@pytest.fixture(scope="module")
def better_baseline(root):
    return make_model_artifact(root / "better", BETTER_TABLE, 8)


def _tfma_blessing(blessed):
    artifact = standard_artifacts.ModelBlessing()
    artifact.set_int_custom_property("blessed", blessed)
    return artifact


def _tfma_evaluation(uri):
    """A TFMA evaluation whose validations failed on RMSE overall: 1.25
    over its 1.2 limit, 0.03 above the baseline's with 0.01 allowed."""
    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(
            upper_bound={"value": 1.2}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": 0.01}))
    eval_config = tfx_eval_config(tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key=LABEL_KEY)],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(
            class_name="RootMeanSquaredError",
            module="trainer_module.tfma_metrics",
            threshold=threshold)])]))
    write_tfma_validations({uri: (eval_config, [((), {
        rmse_key(): 1.25, rmse_key("baseline"): 1.22,
        rmse_key(is_diff=True): 0.03})])})
    artifact = standard_artifacts.ModelEvaluation()
    artifact.uri = uri
    return artifact


class Run(ExecutorRun):
    """One Executor.Do with DEFAULTS overridden by `params`."""

    def __init__(self, root, name, examples, model, baseline=None,
                 tfma_blessing=None, tfma_evaluation=None, **params):
        super().__init__(root, name, examples, model, dict(DEFAULTS, **params),
                         baseline, tfma_blessing, tfma_evaluation)


@pytest.fixture(scope="module")
def plain(root, examples, model):
    return Run(root, "plain", examples, model)


@pytest.fixture(scope="module")
def impossible_ndcg(root, examples, model):
    return Run(root, "impossible", examples, model,
               min_thresholds=json.dumps({"ndcg@k": 1.0}))


@pytest.fixture(scope="module")
def vs_better(root, examples, model, better_baseline):
    return Run(root, "better", examples, model, better_baseline)


@pytest.fixture(scope="module")
def vs_worse(root, examples, model, worse_baseline):
    return Run(root, "worse", examples, model, worse_baseline,
               tfma_blessing=_tfma_blessing(1))


@pytest.fixture(scope="module")
def vs_itself(root, examples, model):
    same = standard_artifacts.Model()
    same.uri, same.id = model.uri, model.id
    return Run(root, "itself", examples, model, same)


@pytest.fixture(scope="module")
def tfma_rejected(root, examples, model):
    return Run(root, "tfma0", examples, model,
               tfma_blessing=_tfma_blessing(0),
               tfma_evaluation=_tfma_evaluation(str(root / "tfma_evaluation")))


# -------------------------------------------------------- brute force


def brute_force_pool(table=None):
    """Users x items minus train pairs, scored by `table` or popularity."""
    train = pd.DataFrame(TRAIN_ROWS).iloc[:, :2]
    train.columns = [USER_KEY, ITEM_KEY]
    cross = pd.DataFrame([(u, i) for u in USERS for i in ITEMS],
                         columns=[USER_KEY, ITEM_KEY])
    merged = cross.merge(train, how="left", indicator=True)
    unseen = merged[merged["_merge"] == "left_only"].drop(columns="_merge")
    if table is None:
        counts = train[ITEM_KEY].value_counts()
        unseen["score"] = unseen[ITEM_KEY].map(counts).fillna(0).astype(
            np.float64)
    else:
        unseen["score"] = table[unseen[USER_KEY], unseen[ITEM_KEY]]
    return unseen.reset_index(drop=True)


def brute_force_ranking(table=None, k=K):
    truth = pd.DataFrame([r[:3] for r in EVAL_ROWS],
                         columns=[USER_KEY, ITEM_KEY, LABEL_KEY])
    return metrics.ranking_metrics(truth, brute_force_pool(table), k,
                                   col_prediction="score")


def numpy_rating_metrics(table):
    y_true = np.array([r[2] for r in EVAL_ROWS], np.float64)
    y_pred = np.clip([table[r[0], r[1]] for r in EVAL_ROWS], 0.5, 5.0)
    error = y_true - y_pred
    return {"rmse": float(np.sqrt(np.mean(error ** 2))),
            "mae": float(np.mean(np.abs(error))),
            "rsquared": 1 - np.mean(error ** 2) / np.var(y_true),
            "exp_var": 1 - np.var(error) / np.var(y_true)}


def assert_close(actual, expected):
    assert set(expected) <= set(actual)
    for name, value in expected.items():
        assert actual[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


# ------------------------------------------------------ the brute force


def test_brute_force_matches_the_hand_values():
    assert len(brute_force_pool()) == 16
    assert_close(brute_force_ranking(MODEL_TABLE), HAND_MODEL)
    assert_close(brute_force_ranking(None), HAND_POPULARITY)
    assert_close(numpy_rating_metrics(MODEL_TABLE), HAND_RATING)
    # The baselines are really better / worse than the model.
    assert brute_force_ranking(BETTER_TABLE)["ndcg@k"] == pytest.approx(1.0)
    assert brute_force_ranking(WORSE_TABLE)["ndcg@k"] < 0.5
    assert (numpy_rating_metrics(WORSE_TABLE)["rmse"]
            > numpy_rating_metrics(MODEL_TABLE)["rmse"])


# ----------------------------------------------------------- plain run


def test_writes_the_artifacts(plain):
    assert sorted(os.listdir(plain.evaluation.uri)) == ["metrics.json",
                                                        "summary.txt"]
    assert plain.marker_files() == ["BLESSED"]


def test_model_ranking_metrics(plain):
    model = plain.metrics["model"]
    assert_close(model, brute_force_ranking(MODEL_TABLE))
    assert_close(model, HAND_MODEL)
    assert model["num_users"] == 4


@pytest.mark.parametrize("ranker, table", [("model", MODEL_TABLE),
                                           ("popularity", None)])
def test_curves_hold_the_metrics_at_every_cutoff(plain, ranker, table):
    curve = plain.metrics["curves"][ranker]
    assert curve["k"] == list(range(1, evaluate.CURVE_MAX_K + 1))
    for k in (1, 2, 3, 6, 20):
        expected = brute_force_ranking(table, k)
        for name in ("precision@k", "recall@k", "ndcg@k"):
            assert curve[name][k - 1] == pytest.approx(expected[name],
                                                       abs=1e-6), (name, k)


def test_popularity_ranking_metrics(plain):
    popularity = plain.metrics["popularity"]
    assert_close(popularity, brute_force_ranking(None))
    assert_close(popularity, HAND_POPULARITY)
    # A ranker, not a rating model: no rating metrics.
    assert "rmse" not in popularity


def test_rating_metrics(plain):
    model = plain.metrics["model"]
    assert_close(model, numpy_rating_metrics(MODEL_TABLE))
    assert_close(model, HAND_RATING)


def test_pool_counts(plain):
    assert plain.metrics["k"] == K
    assert plain.metrics["pool"] == {"users": 4, "items": 6, "pairs": 16,
                                     "shards": 1}
    assert plain.metrics["timing"]["model_pairs_scored"] == 16
    assert "baseline" not in plain.metrics


def test_no_ease_ranker_unless_asked(plain):
    """ease_l2 absent (or 0): no EASE entry, curve, L2 or fit time."""
    assert evaluate.EASE not in plain.metrics
    assert evaluate.EASE not in plain.metrics["curves"]
    assert "ease_l2" not in plain.metrics
    assert "ease_fit_seconds" not in plain.metrics["timing"]
    assert "ease" not in plain.summary


def test_scoring_time_is_measured_inside_the_ranking(plain):
    timing = plain.metrics["timing"]
    # The models' calls are part of the ranking, so they take less time
    # and go faster per pair than the whole of it.
    assert 0 < timing["scoring_seconds"] <= timing["ranking_seconds"]
    assert timing["scoring_pairs_per_second"] >= timing["pairs_per_second"]


def test_blessing_properties(plain, model):
    assert plain.blessed == 1
    assert plain.metrics["blessing"] == {"blessed": True, "checks": []}
    assert plain.blessing.get_int_custom_property("current_model_id") == 11
    assert plain.blessing.get_int_custom_property(
        "current_model_id") == model.id
    assert plain.blessing.get_string_custom_property(
        "current_model") == model.uri
    assert not plain.blessing.has_custom_property("baseline_model_id")


def test_summary(plain):
    lines = plain.summary.splitlines()
    assert lines[0].startswith(
        "top-2 evaluation over 16 unseen (user, item) pairs "
        "(4 users x 6 items minus train)")
    assert lines[1].split() == ["metric", "model", "popularity"]
    ndcg = next(line for line in lines if line.startswith("ndcg@2"))
    assert ndcg.split() == ["ndcg@2", "0.5000",
                            f"{HAND_POPULARITY['ndcg@k']:.4f}"]
    rmse = next(line for line in lines if line.startswith("rmse"))
    assert rmse.split() == ["rmse", f"{math.sqrt(2.75):.4f}", "-"]
    assert lines[-1] == "BLESSED"


# ---------------------------------------------------- beyond accuracy


def plain_beyond_accuracy(table=None):
    """recommender.beyond_accuracy of the brute-force top-2 lists."""
    unseen = brute_force_pool(table)
    top = metrics.top_k_per_user(unseen[USER_KEY].to_numpy(),
                                 unseen[ITEM_KEY].to_numpy(),
                                 unseen["score"].to_numpy(), K)
    return beyond_accuracy.beyond_accuracy(
        [r[0] for r in TRAIN_ROWS], [r[1] for r in TRAIN_ROWS],
        top.user_ids, top.item_ids)


def test_plain_beyond_accuracy_matches_the_hand_values():
    assert_close(plain_beyond_accuracy(MODEL_TABLE), HAND_BEYOND_MODEL)
    assert_close(plain_beyond_accuracy(None), HAND_BEYOND_POPULARITY)


def test_beyond_accuracy_of_every_ranker(plain):
    beyond = plain.metrics["beyond_accuracy"]
    assert set(beyond) == {"model", "popularity"}
    for values in beyond.values():
        assert list(values) == sorted(beyond_accuracy.METRIC_NAMES)
    assert_close(beyond["model"], HAND_BEYOND_MODEL)
    assert_close(beyond["popularity"], HAND_BEYOND_POPULARITY)
    timing = plain.metrics["timing"]
    assert 0 <= timing["beyond_accuracy_seconds"] <= timing["ranking_seconds"]


def test_beyond_accuracy_of_the_baseline(vs_worse):
    beyond = vs_worse.metrics["beyond_accuracy"]
    assert set(beyond) == {"model", "baseline", "popularity"}
    assert_close(beyond["baseline"], plain_beyond_accuracy(WORSE_TABLE))
    assert_close(beyond["model"], HAND_BEYOND_MODEL)
    # WORSE's lists (u1 [5,4], u2 [5,3], u3 [4,3], u4 [6,5]) are not the
    # model's, nor are their numbers.
    assert beyond["baseline"]["novelty"] != HAND_BEYOND_MODEL["novelty"]


def test_summary_shows_beyond_accuracy_per_ranker(plain):
    lines = plain.summary.splitlines()
    start = lines.index("beyond accuracy of the top-2 lists (Microsoft "
                        "Recommenders' definitions; not part of the "
                        "blessing):")
    model = HAND_BEYOND_MODEL
    assert lines[start + 1] == (
        f"  model      catalog coverage 0.8000, distributional coverage "
        f"{model['distributional_coverage']:.3f} bits, novelty 2.000 bits, "
        f"diversity {model['diversity']:.4f}, serendipity "
        f"{model['serendipity']:.4f}")
    assert lines[start + 2].startswith(
        "  popularity catalog coverage 1.0000, distributional coverage "
        "2.250 bits, novelty ")
    # After the metric table, before the decision.
    assert lines[start - 1].startswith("map@2")
    assert lines[start + 3] == "BLESSED"


def test_beyond_accuracy_metrics_take_no_part_in_the_blessing():
    with pytest.raises(ValueError, match="novelty"):
        executor.parse_parameters(dict(
            DEFAULTS, min_thresholds=json.dumps({"novelty": 1.0})))


# --------------------------------------------------------- not blessed


def test_failing_threshold(impossible_ndcg):
    run = impossible_ndcg
    assert run.blessed == 0
    assert run.marker_files() == ["NOT_BLESSED"]
    assert run.metrics["blessing"]["blessed"] is False
    [check] = run.checks()
    assert check == {"name": "ndcg@k >= 1", "passed": False,
                     "detail": "ndcg@k = 0.5000, minimum 1"}
    assert "NOT BLESSED" in run.summary
    assert "[FAILED] ndcg@k = 0.5000, minimum 1" in run.summary


def test_better_baseline_is_not_blessed(vs_better, better_baseline):
    run = vs_better
    assert run.blessed == 0
    assert run.marker_files() == ["NOT_BLESSED"]
    # The oracle ranks every user's eval items first.
    assert_close(run.metrics["baseline"], brute_force_ranking(BETTER_TABLE))
    assert run.metrics["baseline"]["ndcg@k"] == pytest.approx(1.0)
    assert_close(run.metrics["baseline"], numpy_rating_metrics(BETTER_TABLE))
    [failure] = run.checks(passed=False)
    assert failure["name"] == "ndcg@k not worse than baseline"
    assert failure["detail"] == ("ndcg@k = 0.5000, baseline 1.0000, needs "
                                 ">= 1.0000 (tolerance 0)")
    # The oracle predicts 5 on every eval row: its rmse is worse.
    assert [c["name"] for c in run.checks(passed=True)] == [
        "rmse not worse than baseline"]
    assert run.blessing.get_int_custom_property("baseline_model_id") == 8
    assert run.blessing.get_int_custom_property(
        "baseline_model_id") == better_baseline.id
    assert run.blessing.get_string_custom_property(
        "baseline_model") == better_baseline.uri
    assert run.metrics["timing"]["model_pairs_scored"] == 32


def test_worse_baseline_is_blessed(vs_worse, worse_baseline, model):
    run = vs_worse
    assert run.blessed == 1
    assert run.marker_files() == ["BLESSED"]
    assert_close(run.metrics["baseline"], brute_force_ranking(WORSE_TABLE))
    assert_close(run.metrics["baseline"], numpy_rating_metrics(WORSE_TABLE))
    # The model's own metrics do not depend on the baseline.
    assert_close(run.metrics["model"], HAND_MODEL)
    assert [c["name"] for c in run.checks()] == [
        "TFMA Evaluator blessed the model",
        "ndcg@k not worse than baseline", "rmse not worse than baseline"]
    assert all(c["passed"] for c in run.checks())
    assert run.blessing.get_int_custom_property("baseline_model_id") == 7
    assert run.blessing.get_int_custom_property(
        "current_model_id") == model.id
    assert "baseline" in run.summary.splitlines()[1].split()


def test_model_is_its_own_baseline(vs_itself, model):
    # No NOT_BLESSED for the model already blessed: judged on the
    # thresholds alone (here none), it passes.
    run = vs_itself
    assert run.blessed == 1
    assert run.marker_files() == ["BLESSED"]
    [check] = run.checks()
    assert check["passed"] is True
    assert check["name"] == "model is the baseline"
    # Not ranked a second time.
    assert "baseline" not in run.metrics
    assert run.metrics["timing"]["model_pairs_scored"] == 16
    assert run.blessing.get_int_custom_property(
        "baseline_model_id") == model.id


def test_tfma_not_blessed(tfma_rejected):
    run = tfma_rejected
    assert run.blessed == 0
    assert run.marker_files() == ["NOT_BLESSED"]
    [check] = run.checks()
    assert check["name"] == "TFMA Evaluator blessed the model"
    assert check["passed"] is False
    # Why, from TFMA's validation result: no rmse threshold needed here.
    detail = ("TFMA Evaluator: not blessed: root_mean_squared_error = "
              "1.2500, upper bound 1.2 (overall slice); "
              "root_mean_squared_error change from baseline = +0.0300, "
              "needs absolute <= +0.01 (overall slice)")
    assert check["detail"] == detail
    assert run.summary.splitlines()[-2:] == ["NOT BLESSED",
                                             f"  [FAILED] {detail}"]


# ------------------------------------------------ several shards in Beam


def test_several_shards_give_the_same_metrics(root, examples, model,
                                              worse_baseline):
    train = data.read_split(examples, "train")
    eval_ = data.read_split(examples, "eval")
    tmp = root / "shards_tmp"
    tmp.mkdir()
    result = evaluate.evaluate(
        train, eval_, path_utils.serving_model_path(model.uri),
        path_utils.serving_model_path(worse_baseline.uri), K,
        lambda: beam.Pipeline(options=PipelineOptions(
            ["--direct_running_mode=in_memory", "--direct_num_workers=1"])),
        str(tmp), max_pairs_per_shard=6)  # one user per shard
    assert result["pool"]["shards"] == 4
    assert_close(result["model"], HAND_MODEL)
    assert_close(result["popularity"], HAND_POPULARITY)
    assert_close(result["baseline"], brute_force_ranking(WORSE_TABLE))
    # Beyond accuracy, summed over the four shards, as in one.
    beyond = result["beyond_accuracy"]
    assert_close(beyond["model"], HAND_BEYOND_MODEL)
    assert_close(beyond["popularity"], HAND_BEYOND_POPULARITY)
    assert_close(beyond["baseline"], plain_beyond_accuracy(WORSE_TABLE))


# ---------------------------------------------------------------- data


def test_read_split(examples):
    train = data.read_split(examples, "train")
    expected = rows_frame(TRAIN_ROWS)
    key = [USER_KEY, ITEM_KEY]
    pd.testing.assert_frame_equal(
        train.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True))
    with pytest.raises(ValueError, match="'test'"):
        data.read_split(examples, "test")


# ---------------------------------------------------------- parameters


@pytest.mark.parametrize("override, parameter", [
    ({"top_k": 0}, "top_k"),
    ({"top_k": -3}, "top_k"),
    ({"top_k": 2.0}, "top_k"),
    ({"top_k": True}, "top_k"),
    ({"min_thresholds": json.dumps({"ndcg@10": 0.1})}, "min_thresholds"),
    ({"max_thresholds": json.dumps({"RMSE": 1.0})}, "max_thresholds"),
    ({"baseline_metrics": json.dumps(["ndcg"])}, "baseline_metrics"),
    ({"baseline_tolerance": -0.01}, "baseline_tolerance"),
    ({"baseline_tolerance": float("nan")}, "baseline_tolerance"),
    ({"eval_split": "train"}, "train_split and eval_split"),
    ({"ease_l2": -1.0}, "ease_l2"),
    ({"ease_l2": float("nan")}, "ease_l2"),
    ({"ease_l2": float("inf")}, "ease_l2"),
])
def test_parse_parameters_rejects(override, parameter):
    with pytest.raises(ValueError) as error:
        executor.parse_parameters(dict(DEFAULTS, **override))
    assert parameter in str(error.value)


def test_parse_parameters_names_the_unknown_metric():
    with pytest.raises(ValueError, match="ndcg@10"):
        executor.parse_parameters(dict(
            DEFAULTS, min_thresholds=json.dumps({"ndcg@10": 0.1,
                                                 "map": 0.1})))


def test_parse_parameters_accepts():
    params = executor.parse_parameters(dict(
        DEFAULTS, min_thresholds=json.dumps({"ndcg@k": 0.1, "map@k": 0}),
        max_thresholds=json.dumps({"rmse": 2}), baseline_tolerance=0))
    assert params == executor.Parameters(
        2, {"ndcg@k": 0.1, "map@k": 0.0}, {"rmse": 2.0}, ("ndcg@k", "rmse"),
        0.0, "train", "eval")
    assert isinstance(params.max_thresholds["rmse"], float)
    assert params.ease_l2 == 0.0
    assert executor.parse_parameters(dict(
        DEFAULTS, ease_l2=300)).ease_l2 == 300.0


def test_executor_rejects_before_work(root, examples, model):
    # Bad parameters fail before any file is read or written.
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = str(root / "rejected" / "evaluation")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(root / "rejected" / "blessing")
    with pytest.raises(ValueError, match="top_k"):
        executor.Executor().Do(
            {"examples": [examples], "model": [model]},
            {"evaluation": [evaluation], "blessing": [blessing]},
            dict(DEFAULTS, top_k=0))
    assert not os.path.exists(str(root / "rejected"))


# ----------------------------------------------------------- component


def _channels():
    return dict(examples=types.Channel(type=standard_artifacts.Examples),
                model=types.Channel(type=standard_artifacts.Model))


def test_component_rejects_unknown_metric_at_construction():
    with pytest.raises(ValueError) as error:
        TopKEvaluator(**_channels(), min_thresholds={"ndcg@10": 0.2})
    assert "min_thresholds" in str(error.value)
    assert "ndcg@10" in str(error.value)
    with pytest.raises(ValueError, match="baseline_metrics"):
        TopKEvaluator(**_channels(), baseline_metrics=["precision"])
    with pytest.raises(ValueError, match="top_k"):
        TopKEvaluator(**_channels(), top_k=0)
    with pytest.raises(ValueError, match="ease_l2"):
        TopKEvaluator(**_channels(), ease_l2=-3.0)


def test_component_takes_ease_l2_only_when_on():
    """Off (the default, or 0), the parameter is left out: pipelines that
    do not pass it keep their execution properties."""
    assert TopKEvaluator(**_channels()).exec_properties.get("ease_l2") is None
    assert TopKEvaluator(**_channels(),
                         ease_l2=0).exec_properties.get("ease_l2") is None
    component = TopKEvaluator(**_channels(), ease_l2=300)
    assert component.exec_properties["ease_l2"] == 300.0
    assert isinstance(component.exec_properties["ease_l2"], float)


def test_component_accepts_a_whole_number_tolerance():
    component = TopKEvaluator(**_channels(), baseline_tolerance=0)
    assert component.exec_properties["baseline_tolerance"] == 0.0


@pytest.mark.parametrize("rating_metrics", [True, False])
def test_component_without_max_thresholds(rating_metrics):
    """The pipeline's call: TFMA gates RMSE (its evaluation explains a
    refusal), so no max threshold here, for either objective."""
    component = TopKEvaluator(
        **_channels(),
        tfma_blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        tfma_evaluation=types.Channel(
            type=standard_artifacts.ModelEvaluation),
        min_thresholds={"ndcg@k": 0.1}, max_thresholds={},
        baseline_metrics=("ndcg@k",), rating_metrics=rating_metrics)
    assert component.exec_properties["max_thresholds"] == "{}"
    assert executor.parse_parameters(
        component.exec_properties).max_thresholds == {}
    assert component.inputs["tfma_evaluation"].type is \
        standard_artifacts.ModelEvaluation


def test_component_builds():
    component = TopKEvaluator(
        **_channels(),
        baseline_model=types.Channel(type=standard_artifacts.Model),
        tfma_blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        top_k=5, min_thresholds={"ndcg@k": 0.1}, max_thresholds={"rmse": 1.2},
        baseline_tolerance=0.01)
    props = component.exec_properties
    assert props["top_k"] == 5
    assert json.loads(props["min_thresholds"]) == {"ndcg@k": 0.1}
    assert json.loads(props["max_thresholds"]) == {"rmse": 1.2}
    assert json.loads(props["baseline_metrics"]) == ["ndcg@k", "rmse"]
    assert set(component.outputs) == {"evaluation", "blessing"}
    assert component.outputs["blessing"].type is \
        standard_artifacts.ModelBlessing


# ------------------------------------------------ a ranking model


def test_rating_metrics_off_for_a_ranking_model(root, examples, model):
    tmp = root / "ranking_tmp"
    tmp.mkdir()
    result = evaluate.evaluate(
        data.read_split(examples, "train"), data.read_split(examples, "eval"),
        path_utils.serving_model_path(model.uri), None, K,
        lambda: beam.Pipeline(options=PipelineOptions(
            ["--direct_running_mode=in_memory", "--direct_num_workers=1"])),
        str(tmp), rating_metrics=False)
    assert not set(executor.RATING_METRIC_NAMES) & set(result["model"])
    assert_close(result["model"], HAND_MODEL)


def test_rating_thresholds_need_rating_metrics():
    with pytest.raises(ValueError, match=r"\['rmse'\] need rating"):
        executor.parse_parameters(dict(
            DEFAULTS, rating_metrics=0, baseline_metrics=json.dumps(
                ["ndcg@k"]), max_thresholds=json.dumps({"rmse": 1.0})))
    params = executor.parse_parameters(dict(
        DEFAULTS, rating_metrics=0, baseline_metrics=json.dumps(["ndcg@k"]),
        max_thresholds=json.dumps({})))
    assert params.rating_metrics is False
