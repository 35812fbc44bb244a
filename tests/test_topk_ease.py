"""The TopKEvaluator's EASE ranker (ease_l2 > 0) end to end on fake
examples: its metrics and curves equal recommender.metrics on the top-k of
a dense EASE computed by hand, beside the model and popularity, and it never
takes part in the blessing.

Data (k = 2), 6 users x 7 items:
  train: u1: i1 i2 i3 | u2: i1 i2 i4 | u3: i2 i3 i5 i6 | u4: i1 i5 i6 |
         u5: i3 i4 i6                                        (16 pairs)
  eval:  u1: i4 i6 | u2: i3 | u3: i1 | u4: i2 i7 | u6: i1 i3
  u5 has no eval row (not counted), u6 no train row (EASE scores 0 for
  every item: ties, by item id), i7 no train row (scores 0).

EASE with l2 = 2 (B = I - P / diag(P), P = (X'X + 2 I)^-1, score x_u B),
top 2 per user (scores rounded; no two within 0.04 but u6's zeros):
  u1 unseen {4,5,6,7}: 4 .335, 6 .278 -> [4, 6]; truth {4,6}: both
      p 1, r 1, ndcg 1, AP (1 + 1) / 2 = 1
  u2 {3,5,6,7}: 3 .402, 6 .167 -> [3, 6]; truth {3}: rank 1
      p 1/2, r 1, ndcg 1, AP 1
  u3 {1,4,7}: 1 .515, 4 .207 -> [1, 4]; truth {1}: rank 1, as u2
  u4 {2,3,4,7}: 2 .368, 3 .317 -> [2, 3]; truth {2,7}: rank 1
      p 1/2, r 1/2, ndcg (1/ln2)/IDCG2, AP 1/2
  u6 all 0 -> [1, 2]; truth {1,3}: rank 1, as u4
The model is an oracle (10 on the eval pairs): ndcg 1.
"""
import json
import math

import apache_beam as beam
import numpy as np
import pandas as pd
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from tfx.utils import path_utils

from components.topk_evaluator import evaluate
from recommender import data, metrics
from topk_fixtures import (ExecutorRun, make_model_artifact,
                           write_examples_artifact)
from movielens_features import ITEM_KEY, LABEL_KEY, USER_KEY

K = 2
L2 = 2.0
TRAIN = {1: [1, 2, 3], 2: [1, 2, 4], 3: [2, 3, 5, 6], 4: [1, 5, 6],
         5: [3, 4, 6]}
EVAL = {1: [4, 6], 2: [3], 3: [1], 4: [2, 7], 6: [1, 3]}
USERS, ITEMS = [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7]


def _rows(split, start):
    pairs = [(u, i) for u, items in split.items() for i in items]
    return [(u, i, 4.0, b"Drama", start + n) for n, (u, i) in
            enumerate(pairs)]


TRAIN_ROWS, EVAL_ROWS = _rows(TRAIN, 0), _rows(EVAL, 100)
ORACLE = np.zeros((7, 8), np.float32)
for _user, _item, *_ in EVAL_ROWS:
    ORACLE[_user, _item] = 10.0

IDCG2 = 1 / math.log(2) + 1 / math.log(3)
HAND_EASE = {"precision@k": (1 + 4 * 0.5) / 5, "recall@k": 4 / 5,
             "ndcg@k": (3 + 2 * (1 / math.log(2)) / IDCG2) / 5,
             "map": 4 / 5, "map@k": 4 / 5, "num_users": 5}
HAND_TOP2 = {1: [4, 6], 2: [3, 6], 3: [1, 4], 4: [2, 3], 5: [2, 5],
             6: [1, 2]}
PROPERTIES = dict(top_k=K, min_thresholds=json.dumps({"ndcg@k": 0.95}),
                  max_thresholds="{}", baseline_metrics=json.dumps([]),
                  baseline_tolerance=0.0, train_split="train",
                  eval_split="eval", rating_metrics=0, ease_l2=L2)


def ease_scores_by_hand():
    """{(user, item): x_u B[:, item]} over every user and item, in numpy."""
    rated = np.zeros((len(USERS), len(ITEMS)))
    for user, items in TRAIN.items():
        for item in items:
            rated[user - 1, item - 1] = 1.0
    inverse = np.linalg.inv(rated.T @ rated + L2 * np.eye(len(ITEMS)))
    weights = np.eye(len(ITEMS)) - inverse / np.diag(inverse)
    scores = rated @ weights
    return {(u, i): scores[u - 1, i - 1] for u in USERS for i in ITEMS}


def brute_force_pool():
    """Users x items minus train pairs, scored by the hand EASE."""
    scores = ease_scores_by_hand()
    return pd.DataFrame(
        [(u, i, scores[u, i]) for u in USERS for i in ITEMS
         if i not in TRAIN.get(u, [])],
        columns=[USER_KEY, ITEM_KEY, "score"])


def brute_force_ranking(k=K):
    truth = pd.DataFrame([r[:3] for r in EVAL_ROWS],
                         columns=[USER_KEY, ITEM_KEY, LABEL_KEY])
    return metrics.ranking_metrics(truth, brute_force_pool(), k,
                                   col_prediction="score")


def assert_close(actual, expected):
    assert set(expected) <= set(actual)
    for name, value in expected.items():
        assert actual[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_hand_values_and_no_near_ties():
    """The fixture's EASE ranking is the one the docstring works out, with
    no two scores of a user close enough for float32 to reorder them."""
    pool = brute_force_pool()
    assert len(pool) == 6 * 7 - 16
    top = metrics.top_k_per_user(pool[USER_KEY].to_numpy(),
                                 pool[ITEM_KEY].to_numpy(),
                                 pool["score"].to_numpy(), K)
    assert {u: top.item_ids[top.user_ids == u].tolist()
            for u in USERS} == HAND_TOP2
    for _, scores in pool.groupby(USER_KEY)["score"]:
        values = np.sort(scores.to_numpy())
        gaps = np.diff(values)
        assert np.all((gaps == 0) | (gaps > 0.01)), values
    assert (pool[pool[USER_KEY] == 6]["score"] == 0).all()
    assert_close(brute_force_ranking(), HAND_EASE)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("topk_ease")


@pytest.fixture(scope="module")
def examples(root):
    return write_examples_artifact(root / "examples",
                                   {"train": TRAIN_ROWS, "eval": EVAL_ROWS})


@pytest.fixture(scope="module")
def oracle(root):
    return make_model_artifact(root / "oracle", ORACLE, 5)


@pytest.fixture(scope="module")
def run(root, examples, oracle):
    return ExecutorRun(root, "ease", examples, oracle, PROPERTIES)


def test_ease_metrics_are_eases_top_k_by_hand(run):
    assert run.metrics["ease_l2"] == L2
    assert_close(run.metrics["ease"], brute_force_ranking())
    assert_close(run.metrics["ease"], HAND_EASE)
    # A ranker, not a rating model; popularity and the model are still
    # there, the model an oracle.
    assert set(run.metrics["ease"]) == set(HAND_EASE)
    assert run.metrics["popularity"]["num_users"] == 5
    assert run.metrics["model"]["ndcg@k"] == pytest.approx(1.0)


def test_ease_curves_hold_its_metrics_at_every_cutoff(run):
    curve = run.metrics["curves"]["ease"]
    assert curve["k"] == list(range(1, evaluate.CURVE_MAX_K + 1))
    for k in (1, 2, 3, 5, 20):
        expected = brute_force_ranking(k)
        for name in ("precision@k", "recall@k", "ndcg@k"):
            assert curve[name][k - 1] == pytest.approx(expected[name],
                                                       abs=1e-6), (name, k)


def test_ease_is_timed_but_not_counted_as_model_scoring(run):
    timing = run.metrics["timing"]
    assert timing["ease_fit_seconds"] >= 0
    assert timing["model_pairs_scored"] == run.metrics["pool"]["pairs"] == 26


def test_ease_takes_no_part_in_the_blessing(run):
    """EASE's ndcg is below the threshold the model passes: blessed, and
    the one check is the model's."""
    assert run.metrics["ease"]["ndcg@k"] < 0.95
    assert run.blessed == 1
    assert run.checks() == [{"name": "ndcg@k >= 0.95", "passed": True,
                             "detail": "ndcg@k = 1.0000, minimum 0.95"}]


def test_summary_shows_ease_beside_popularity(run):
    lines = run.summary.splitlines()
    assert lines[1].split() == ["metric", "model", "popularity", "ease"]
    ndcg = next(line for line in lines if line.startswith("ndcg@2"))
    assert ndcg.split()[-1] == f"{HAND_EASE['ndcg@k']:.4f}"
    assert ("ease: EASE alone (Steck 2019) fitted on the train split, "
            "l2 2; a reference, not part of the blessing") in lines


def test_several_shards_give_the_same_ease_metrics(root, examples, oracle):
    tmp = root / "shards_tmp"
    tmp.mkdir()
    result = evaluate.evaluate(
        data.read_split(examples, "train"), data.read_split(examples, "eval"),
        path_utils.serving_model_path(oracle.uri), None, K,
        lambda: beam.Pipeline(options=PipelineOptions(
            ["--direct_running_mode=in_memory", "--direct_num_workers=1"])),
        str(tmp), max_pairs_per_shard=14, rating_metrics=False,
        ease_l2=L2)  # two users per shard
    assert result["pool"]["shards"] == 3
    assert_close(result["ease"], HAND_EASE)
