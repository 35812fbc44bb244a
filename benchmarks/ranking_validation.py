"""Validation study of the ranking objective's defaults, on the TRAIN split only.

    .venv/bin/python benchmarks/ranking_validation.py

What it measures: top-10 ranking quality of the project's wide-and-deep
classifier (trainer_module.model.build_estimator with
HParams.ranking_defaults()) trained on the NegativeSampler's rounds, for a few
training-data recipes. The point is the order of the sampled rows: "rounds in
order" (each round = every positive once with fresh negatives, shuffled within
the round, rounds one after the other: what the pipeline does) against
"rounds mixed" (one permutation over every round's rows: what it did before),
plus negatives per positive and number of rounds for context.

Protocol (per seed; every variant of a seed shares its hold-out and pool):
  1. Read the raw `train` split of the newest CsvExampleGen output in the
     metadata store of --output-root / --pipeline-name. The `eval` split is
     never read: defaults are tuned on train alone.
  2. Hold out round(20%) of each user's train ratings (seeded): the truth.
     The rest is the fit part.
  3. Sample negatives with the NegativeSampler's own per-user functions
     (sampling.train_rounds) over the catalog of the fit part, then order
     the rows as the variant says.
  4. Build the transformed features in numpy (vocabulary indexes of the fit
     part with the OOV bucket at vocabulary size, genres multi-hot via
     preprocessing.multi_hot_genres), train hparams.steps_for(rows) steps.
  5. Score the pool: every (train user, train-catalog item) pair not in the
     fit part. precision/recall/ndcg/map@10 with
     recommender/metrics.py, and the popularity baseline (fit
     counts) on the same pool.

One seed drives the hold-out, the sampler, the row order and the graph seed.
Writes benchmarks/results/ranking_validation.json: every run and per-variant
medians over the seeds.

From a ratings CSV instead of the metadata store (issue 15's search):

    .venv/bin/python benchmarks/ranking_validation.py \
        --data-csv data/ml-100k/ratings.csv --split user_stratified \
        --split-seed 42 --seeds 1 2 3 --variants ref dnn_lr_01 ... \
        --append --out benchmarks/results/ranking_search_stratified.json

  1'. The train part of the per-user stratified 75/25 split of the CSV
      (components/stratified_example_gen/splitting.py, seed 42): what the
      pipeline's ingestion gives as train. Its eval part is dropped unread.
  2'. The hold-out is per-user stratified too (splitting.split_user_rows
      with the run's seed, train fraction 0.8), so every user with >= 2
      train rows has held-out rows; run seeds must differ from the split
      seed. (--holdout random keeps step 2's carve.)
  SEARCH_VARIANTS are the search's levers; --append keeps the runs already
  in --out, so the search can run in batches and is written after every run.
  Genre ids (Transform's genre_ids_xf, for the user x genre cross) are built
  with preprocessing.genre_ids, as Transform does.
"""
import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, NamedTuple, Sequence, Tuple

import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow import estimator as tf_estimator

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import common  # noqa: E402
from components.negative_sampler import sampling  # noqa: E402
from components.stratified_example_gen import splitting  # noqa: E402
from recommender import catalog as catalog_lib  # noqa: E402
from recommender import data, ease, metrics  # noqa: E402
from pipeline import configs  # noqa: E402
from runtime import metadata_report  # noqa: E402
from trainer_module import (  # noqa: E402
    features, history, model, preprocessing, train_tables)
from trainer_module.hparams import HParams  # noqa: E402

# The only split this study reads.
TRAIN_SPLIT = configs.TRAIN_SPLIT
HOLDOUT_FRACTION = 0.2
# Splits of a ratings CSV (--data-csv): the pipeline's per-user stratified
# 75/25 split (components/stratified_example_gen/splitting.py), seed 42.
USER_STRATIFIED = "user_stratified"
SPLITS = (USER_STRATIFIED,)
DEFAULT_SPLIT_SEED = 42
DEFAULT_TRAIN_FRACTION = 0.75
# How the hold-out is carved from the train split: a seeded random
# round(20%) of each user's rows (split_holdout), or per-user stratified
# with splitting.split_user_rows (split_holdout_stratified: every user with
# >= 2 train rows has held-out rows).
RANDOM_HOLDOUT = "random"
STRATIFIED_HOLDOUT = "user_stratified"
HOLDOUTS = (RANDOM_HOLDOUT, STRATIFIED_HOLDOUT)
K = 10
DEFAULT_SEEDS = (42, 7)
DEFAULT_OUT = os.path.join(REPO, "benchmarks", "results",
                           "ranking_validation.json")
PREDICT_BATCH = 16384

USER, ITEM = features.USER_KEY, features.ITEM_KEY
LABEL = features.SAMPLED_LABEL_KEY
ROUND = "round"
USER_XF = features.transformed_name(features.USER_KEY)
ITEM_XF = features.transformed_name(features.ITEM_KEY)
GENRES_XF = features.transformed_name(features.GENRES_KEY)
GENRE_IDS_XF = features.transformed_name(features.GENRE_IDS_KEY)

IN_ORDER = "in_order"
MIXED = "mixed"
_RANKING = HParams.ranking_defaults()


@dataclasses.dataclass(frozen=True)
class Variant:
    """One training-data recipe (and optional hyper-parameter overrides)."""
    name: str
    description: str
    order: str = IN_ORDER
    negatives_per_positive: int = _RANKING.negatives_per_positive
    # Rounds of fresh negatives: the Trainer's epochs.
    rounds: int = _RANKING.epochs
    hparam_overrides: Tuple[Tuple[str, Any], ...] = ()


VARIANTS: Tuple[Variant, ...] = (
    Variant("rounds_in_order", "pipeline defaults: rounds read one after "
            "the other, each shuffled on its own"),
    Variant("rounds_mixed", "the same rows in one permutation over all "
            "rounds (the pipeline before)", order=MIXED),
    Variant("negatives_2", "rounds in order, 2 negatives per positive",
            negatives_per_positive=2),
    Variant("rounds_4", "rounds in order, 4 rounds", rounds=4),
    Variant("rounds_8", "rounds in order, 8 rounds", rounds=8),
)
VARIANTS_BY_NAME = {variant.name: variant for variant in VARIANTS}

# The search on the per-user stratified split (--data-csv, issue 15):
# pipeline defaults first (the reference), then one lever at a time, then
# combinations of those that helped. Results:
# results/ranking_search_stratified.json.
SEARCH_VARIANTS: Tuple[Variant, ...] = (
    Variant("ref", "the ranking defaults before the search (Adam 0.003), "
            "4 negatives x 6 rounds: the reference"),
    Variant("rounds_10", "10 rounds", rounds=10),
    Variant("neg_8", "8 negatives per positive", negatives_per_positive=8),
    Variant("user_genre", "wide user x genre cross",
            hparam_overrides=(("wide_user_genre_cross", True),)),
    Variant("emb_64", "64-dimensional user and item embeddings",
            hparam_overrides=(("user_embedding_dim", 64),
                              ("item_embedding_dim", 64))),
    Variant("hidden_256_128", "hidden units (256, 128)",
            hparam_overrides=(("hidden_units", (256, 128)),)),
    Variant("dnn_lr_001", "Adam learning rate 0.001",
            hparam_overrides=(("dnn_learning_rate", 0.001),)),
    Variant("linear_lr_01", "FTRL learning rate 0.1",
            hparam_overrides=(("linear_learning_rate", 0.1),)),
    Variant("linear_lr_002", "FTRL learning rate 0.02",
            hparam_overrides=(("linear_learning_rate", 0.02),)),
    Variant("linear_l2_1", "FTRL L2 strength 1.0",
            hparam_overrides=(("linear_l2", 1.0),)),
    Variant("batch_512", "batch size 512",
            hparam_overrides=(("batch_size", 512),)),
    Variant("dropout_02", "DNN dropout 0.2",
            hparam_overrides=(("dropout", 0.2),)),
    Variant("no_cross", "no wide user x item cross",
            hparam_overrides=(("wide_user_item_cross", False),)),
    Variant("no_cross_user_genre", "no user x item cross, user x genre cross",
            hparam_overrides=(("wide_user_item_cross", False),
                              ("wide_user_genre_cross", True))),
    Variant("no_cross_rounds_10", "no user x item cross, 10 rounds",
            rounds=10, hparam_overrides=(("wide_user_item_cross", False),)),
    Variant("max_norm", "embeddings clipped to norm sqrt(dimension)",
            hparam_overrides=(("embedding_max_norm", True),)),
    Variant("rounds_4", "4 rounds", rounds=4),
    Variant("dnn_lr_01", "Adam learning rate 0.01",
            hparam_overrides=(("dnn_learning_rate", 0.01),)),
    Variant("dnn_lr_0006", "Adam learning rate 0.006",
            hparam_overrides=(("dnn_learning_rate", 0.006),)),
    Variant("adagrad_005", "Adagrad learning rate 0.05 on the DNN",
            hparam_overrides=(("dnn_optimizer", "adagrad"),
                              ("dnn_learning_rate", 0.05))),
    Variant("neg_8_rounds_4", "8 negatives per positive, 4 rounds",
            negatives_per_positive=8, rounds=4),
    Variant("neg_12_rounds_3", "12 negatives per positive, 3 rounds",
            negatives_per_positive=12, rounds=3),
    Variant("emb_16", "16-dimensional user and item embeddings",
            hparam_overrides=(("user_embedding_dim", 16),
                              ("item_embedding_dim", 16))),
    Variant("batch_norm", "batch normalisation in the DNN",
            hparam_overrides=(("batch_norm", True),)),
    Variant("hidden_64_32", "hidden units (64, 32)",
            hparam_overrides=(("hidden_units", (64, 32)),)),
    Variant("lr0006_max_norm", "Adam 0.006, max-norm embeddings",
            hparam_overrides=(("dnn_learning_rate", 0.006),
                              ("embedding_max_norm", True))),
    Variant("max_norm_rounds_8", "max-norm embeddings, 8 rounds", rounds=8,
            hparam_overrides=(("embedding_max_norm", True),)),
    Variant("lr0006_decay01", "Adam 0.006 decaying to 0.0006",
            hparam_overrides=(("dnn_learning_rate", 0.006),
                              ("dnn_learning_rate_decay", 0.1))),
    Variant("lr001_decay005", "Adam 0.01 decaying to 0.0005",
            hparam_overrides=(("dnn_learning_rate", 0.01),
                              ("dnn_learning_rate_decay", 0.05))),
    Variant("lr0006_decay01_rounds_8", "Adam 0.006 decaying to 0.0006, "
            "8 rounds", rounds=8,
            hparam_overrides=(("dnn_learning_rate", 0.006),
                              ("dnn_learning_rate_decay", 0.1))),
    Variant("lr0006_neg_8_rounds_4", "Adam 0.006, 8 negatives x 4 rounds",
            negatives_per_positive=8, rounds=4,
            hparam_overrides=(("dnn_learning_rate", 0.006),)),
    Variant("lr0006_neg_8_rounds_4_max_norm", "Adam 0.006, 8 negatives x 4 "
            "rounds, max-norm embeddings", negatives_per_positive=8, rounds=4,
            hparam_overrides=(("dnn_learning_rate", 0.006),
                              ("embedding_max_norm", True))),
    Variant("user_genre_l2", "user x genre cross, FTRL L2 strength 1.0",
            hparam_overrides=(("wide_user_genre_cross", True),
                              ("linear_l2", 1.0))),
    Variant("no_item_column", "no item one-hot in the wide part",
            hparam_overrides=(("wide_item_column", False),)),
    Variant("batch_512_lr0006", "batch size 512, Adam 0.006",
            hparam_overrides=(("batch_size", 512),
                              ("dnn_learning_rate", 0.006))),
    Variant("hidden_512_128", "hidden units (512, 128)",
            hparam_overrides=(("hidden_units", (512, 128)),)),
    Variant("batch_256", "batch size 256",
            hparam_overrides=(("batch_size", 256),)),
    Variant("batch_128", "batch size 128",
            hparam_overrides=(("batch_size", 128),)),
    Variant("batch_256_lr0002", "batch size 256, Adam 0.002",
            hparam_overrides=(("batch_size", 256),
                              ("dnn_learning_rate", 0.002))),
    Variant("batch_256_neg_8_rounds_4", "batch size 256, 8 negatives x 4 "
            "rounds", negatives_per_positive=8, rounds=4,
            hparam_overrides=(("batch_size", 256),)),
    Variant("lr001_neg_8_rounds_4", "Adam 0.01, 8 negatives x 4 rounds",
            negatives_per_positive=8, rounds=4,
            hparam_overrides=(("dnn_learning_rate", 0.01),)),
    Variant("dnn_lr_015", "Adam learning rate 0.015",
            hparam_overrides=(("dnn_learning_rate", 0.015),)),
    Variant("lr001_batch_512", "Adam 0.01, batch size 512",
            hparam_overrides=(("dnn_learning_rate", 0.01),
                              ("batch_size", 512))),
    Variant("lr001_max_norm", "Adam 0.01, max-norm embeddings",
            hparam_overrides=(("dnn_learning_rate", 0.01),
                              ("embedding_max_norm", True))),
    Variant("lr001_emb_64", "Adam 0.01, 64-dimensional embeddings",
            hparam_overrides=(("dnn_learning_rate", 0.01),
                              ("user_embedding_dim", 64),
                              ("item_embedding_dim", 64))),
    Variant("lr001_neg_8", "Adam 0.01, 8 negatives per positive",
            negatives_per_positive=8,
            hparam_overrides=(("dnn_learning_rate", 0.01),)),
)
# The search ran from the ranking defaults before it (Adam 0.003): pinned
# here so each variant keeps its recorded hyper-parameters (a variant's own
# override wins).
SEARCH_BASE_OVERRIDES = (("dnn_learning_rate", 0.003),
                         ("user_embedding_dim", 32),
                         ("history_embedding_dim", 0))
SEARCH_VARIANTS = tuple(
    dataclasses.replace(v, hparam_overrides=SEARCH_BASE_OVERRIDES
                        + v.hparam_overrides) for v in SEARCH_VARIANTS)
# What the search chose (5 seeds), now HParams.ranking_defaults(): Adam
# 0.01, the user's history in place of the user embedding, hidden units
# (256, 128), the EASE score, with 4 negatives per positive; 6 rounds
# (epochs) until issue 23 halved them (EASE_VARIANTS' rounds_3).
SEARCH_CHOSEN = "ease_hist_64_nouser_hidden_256_128_rounds_3"
# The sixth round (issue 23): that variant ranked by logit + w * its EASE
# input (--ease-blend-weights 4 8 12, seeds 1-5). w = 8 has the largest sum
# of the two medians and both above EASE alone's:
# HParams.ranking_defaults().ease_blend_weight.
CHOSEN_EASE_BLEND_WEIGHT = 8.0
# The second round: the user-history feature (trainer_module/history.py),
# on Adam 0.01 unless said.
HISTORY_VARIANTS: Tuple[Variant, ...] = tuple(
    Variant(name, description, negatives_per_positive=negatives,
            rounds=rounds, hparam_overrides=(
                ("dnn_learning_rate", 0.01),
                ("history_embedding_dim", history_dim),
                ("user_embedding_dim", user_dim)) + more)
    for name, description, negatives, rounds, history_dim, user_dim, more
    in (
        ("hist_32", "Adam 0.01, 4 negatives, user and history embeddings "
         "32", 4, 6, 32, 32, ()),
        ("hist_64_nouser", "Adam 0.01, 4 negatives, history embedding 64, "
         "no user embedding", 4, 6, 64, 0, ()),
        ("hist_64_nouser_neg_8", "Adam 0.01, 8 negatives, history embedding "
         "64, no user embedding", 8, 6, 64, 0, ()),
        ("hist_64_nouser_rounds_8", "Adam 0.01, 4 negatives x 8 rounds, "
         "history embedding 64, no user embedding", 4, 8, 64, 0, ()),
        ("hist_64_nouser_lr0003", "Adam 0.003, history embedding 64, no "
         "user embedding", 4, 6, 64, 0, (("dnn_learning_rate", 0.003),)),
        ("hist_64_nouser_no_cross", "history embedding 64, no user "
         "embedding, no wide user x item cross", 4, 6, 64, 0,
         (("wide_user_item_cross", False),)),
        ("hist_128_nouser", "history embedding 128, no user embedding",
         4, 6, 128, 0, ()),
        ("hist_64_nouser_hidden_256_128", "history embedding 64, no user "
         "embedding, hidden units (256, 128)", 4, 6, 64, 0,
         (("hidden_units", (256, 128)),)),
        ("hist_64_nouser_neg_8_hidden_256_128", "history embedding 64, no "
         "user embedding, 8 negatives, hidden units (256, 128)", 8, 6, 64, 0,
         (("hidden_units", (256, 128)),)),
        ("hist_64_nouser_neg_12_hidden_256_128", "history embedding 64, "
         "no user embedding, 12 negatives, hidden units (256, 128)", 12, 6,
         64, 0, (("hidden_units", (256, 128)),)),
        ("hist_64_nouser_item_64", "history embedding 64, no user "
         "embedding, item embedding 64", 4, 6, 64, 0,
         (("item_embedding_dim", 64),)),
        ("hist_64_nouser_neg_8_rounds_4", "history embedding 64, no user "
         "embedding, 8 negatives x 4 rounds", 8, 4, 64, 0, ())))
SEARCH_VARIANTS += HISTORY_VARIANTS
# The third round: the item-kNN score of the candidate against the history
# (history.item_knn_score), on "hist_64_nouser" unless said.
# Its SLIM-like variants swap the kNN score for a wide history x item cross.
_SLIM = (("item_knn_feature", False), ("wide_history_item_cross", True),
         ("linear_sparse_combiner", "sqrtn"))
KNN_VARIANTS: Tuple[Variant, ...] = tuple(
    Variant(name, description, negatives_per_positive=negatives,
            hparam_overrides=(
                ("dnn_learning_rate", 0.01), ("history_embedding_dim", 64),
                ("user_embedding_dim", 0), ("item_knn_feature", True)) + more)
    for name, description, negatives, more in (
        ("knn_hist_64_nouser", "hist_64_nouser plus the item-kNN score",
         4, ()),
        ("knn_hist_64_nouser_neg_8_hidden_256_128", "hist_64_nouser_neg_8_"
         "hidden_256_128 plus the item-kNN score", 8,
         (("hidden_units", (256, 128)),)),
        ("slim_hist_64_nouser", "hist_64_nouser plus a wide history x "
         "item cross (sqrtn)", 4, _SLIM),
        ("slim_hist_64_nouser_ftrl_02", "slim_hist_64_nouser with FTRL "
         "rate 0.2", 4, _SLIM + (("linear_learning_rate", 0.2),)),
    ))
SEARCH_VARIANTS += KNN_VARIANTS
# The fourth round: the EASE score of the candidate against the history
# (history.item_ease_score), on the model of "hist_64_nouser_hidden_256_128"
# (the third round's defaults but for their 8 negatives).
EASE_VARIANTS: Tuple[Variant, ...] = tuple(
    Variant(name, description, negatives_per_positive=negatives,
            rounds=rounds, hparam_overrides=(
                ("dnn_learning_rate", 0.01), ("history_embedding_dim", 64),
                ("user_embedding_dim", 0), ("hidden_units", (256, 128)),
                ("item_ease_feature", True)))
    for name, description, negatives, rounds in (
        ("ease_hist_64_nouser_neg_8_hidden_256_128", "hist_64_nouser_neg_8_"
         "hidden_256_128 plus the EASE score (L2 300)", 8, 6),
        ("ease_hist_64_nouser_hidden_256_128", "hist_64_nouser_hidden_256_"
         "128 plus the EASE score (L2 300), 4 negatives", 4, 6),
        # Issue 23: 3 epochs of fresh negatives instead of 6.
        ("ease_hist_64_nouser_hidden_256_128_rounds_3",
         "ease_hist_64_nouser_hidden_256_128 with 3 rounds (epochs)", 4, 3),
    ))
SEARCH_VARIANTS += EASE_VARIANTS
# The fifth round (issue 23): the defaults (HParams.ranking_defaults(), the
# fourth round's choice) against EASE alone, which every run now records
# beside popularity; each variant changes one lever.
DEFAULT_VARIANTS: Tuple[Variant, ...] = tuple(
    Variant(name, description, negatives_per_positive=negatives,
            rounds=rounds, hparam_overrides=more)
    for name, description, negatives, rounds, more in (
        ("defaults_ease_l2_100", "ranking defaults, EASE feature L2 100",
         4, 6, (("ease_l2", 100.0),)),
        ("defaults_ease_l2_1000", "ranking defaults, EASE feature L2 1000",
         4, 6, (("ease_l2", 1000.0),)),
        ("defaults_neg_2", "ranking defaults, 2 negatives per positive",
         2, 6, ()),
        ("defaults_rounds_12", "ranking defaults, 12 epochs", 4, 12, ()),
        ("defaults_hist_128", "ranking defaults, history embedding 128",
         4, 6, (("history_embedding_dim", 128),)),
        ("defaults_lr_0003", "ranking defaults, Adam 0.003", 4, 6,
         (("dnn_learning_rate", 0.003),)),
        ("defaults_no_cross", "ranking defaults without the wide user x "
         "item cross (its hash buckets are noise for unseen pairs)", 4, 6,
         (("wide_user_item_cross", False),)),
        ("defaults_neg_2_ease_l2_1000", "ranking defaults, 2 negatives per "
         "positive, EASE feature L2 1000", 2, 6, (("ease_l2", 1000.0),)),
    ))
SEARCH_VARIANTS += DEFAULT_VARIANTS
SEARCH_VARIANTS_BY_NAME = {v.name: v for v in SEARCH_VARIANTS}
ALL_VARIANTS = {**VARIANTS_BY_NAME, **SEARCH_VARIANTS_BY_NAME}


# ------------------------------------------------------------------ input


def read_train_split(output_root: str, pipeline_name: str
                     ) -> Tuple[pd.DataFrame, str]:
    """The raw train split of the newest CsvExampleGen output, and its URI.

    Only the train split: the eval split stays unseen.
    """
    paths = configs.LocalPaths(output_root, pipeline_name)
    store = metadata_report.open_existing_store(paths.metadata_path)
    examples = metadata_report.latest_examples(store)
    if examples is None:
        raise SystemExit(f"no CsvExampleGen examples in {paths.metadata_path}")
    return data.read_split(examples, TRAIN_SPLIT), examples.uri


def read_csv_train_split(path: str, seed: int = DEFAULT_SPLIT_SEED,
                         train_fraction: float = DEFAULT_TRAIN_FRACTION
                         ) -> pd.DataFrame:
    """The train part of the per-user stratified split of a ratings CSV
    (user_id,item_id,rating,timestamp,genres), as read_split gives a split:
    user_id, item_id, rating, genres (bytes, b"" for none).

    Each user's rows go through splitting.split_user_rows(seed,
    train_fraction) with sort keys (item_id, rating, timestamp, genres), as
    the pipeline's ingestion does. The eval part is dropped here.
    """
    ratings = pd.read_csv(path, dtype={features.GENRES_KEY: str},
                          keep_default_na=False)
    missing = set(features.CSV_COLUMNS) - set(ratings.columns)
    if missing:
        raise ValueError(f"{path} lacks the columns {sorted(missing)}")
    kept = []
    for user_id, rows in ratings.groupby(USER, sort=True):
        index = rows.index.tolist()
        keys = list(zip(rows[ITEM].astype(int), rows[features.LABEL_KEY]
                        .astype(float), rows[features.TIMESTAMP_KEY]
                        .astype(int), rows[features.GENRES_KEY].astype(str)))
        train_index, _ = splitting.split_user_rows(
            index, keys, int(user_id), seed, train_fraction)
        kept.extend(train_index)
    train = ratings.loc[sorted(kept)]
    return pd.DataFrame({
        USER: train[USER].to_numpy(np.int64),
        ITEM: train[ITEM].to_numpy(np.int64),
        features.LABEL_KEY: train[features.LABEL_KEY].to_numpy(np.float32),
        features.GENRES_KEY: np.array(
            [g.encode() for g in train[features.GENRES_KEY]], dtype=object),
    })


def split_holdout_stratified(train: pd.DataFrame, fraction: float, seed: int
                             ) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """(fit, holdout) per user with splitting.split_user_rows (train
    fraction 1 - fraction, sort keys the row's values): a user with n >= 2
    rows keeps round((1 - fraction) * n) of them, at least 1 and at most
    n - 1, so every such user has held-out rows."""
    columns = [ITEM, features.LABEL_KEY, features.GENRES_KEY]
    fit_index, held_index = [], []
    for user_id, rows in train.groupby(USER, sort=True):
        index = rows.index.tolist()
        keys = list(zip(*(rows[c].tolist() for c in columns)))
        fit_rows, held_rows = splitting.split_user_rows(
            index, keys, int(user_id), seed, 1.0 - fraction)
        fit_index.extend(fit_rows)
        held_index.extend(held_rows)
    return (train.loc[sorted(fit_index)].reset_index(drop=True),
            train.loc[sorted(held_index)].reset_index(drop=True))


def split_holdout(train: pd.DataFrame, fraction: float, seed: int
                  ) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """(fit, holdout): a seeded random round(fraction * n) of each user's n
    rows is held out (np.round), the rest is fit."""
    keys = np.random.default_rng(seed).random(len(train))
    rank = pd.Series(keys, index=train.index).groupby(
        train[USER]).rank(method="first")
    size = train.groupby(USER)[USER].transform("size")
    held = (rank <= np.round(fraction * size)).to_numpy()
    return (train[~held].reset_index(drop=True),
            train[held].reset_index(drop=True))


def sampler_catalog(rows: pd.DataFrame) -> catalog_lib.Catalog:
    """The NegativeSampler's catalog of the items in `rows`."""
    return catalog_lib.catalog_of_items(
        zip(rows[ITEM].tolist(), rows[features.GENRES_KEY].tolist()))


# --------------------------------------------------------------- sampling


def sample_rounds(fit: pd.DataFrame, catalog: catalog_lib.Catalog,
                  negatives_per_positive: int, rounds: int, seed: int
                  ) -> List[pd.DataFrame]:
    """Each round's rows (user_id, item_id, label, round), exactly as the
    NegativeSampler's train_rounds draws them per user."""
    per_round: List[List[sampling.LabeledRows]] = [[] for _ in range(rounds)]
    for user_id, ratings in fit.groupby(USER, sort=True):
        # read_split has no timestamp; the model never reads it.
        positives = [sampling.Rating(int(user_id), int(item), float(rating),
                                     0, genres)
                     for item, rating, genres in zip(
                         ratings[ITEM], ratings[features.LABEL_KEY],
                         ratings[features.GENRES_KEY])]
        for index, (rows, _) in enumerate(sampling.train_rounds(
                int(user_id), positives, catalog, negatives_per_positive,
                rounds, seed)):
            per_round[index].append(rows)
    return [_round_frame(rows, index) for index, rows in enumerate(per_round)]


def _round_frame(rows: List[sampling.LabeledRows],
                 round_index: int) -> pd.DataFrame:
    return pd.DataFrame({
        USER: np.concatenate([np.full(len(r), r.user_id, np.int64)
                              for r in rows]),
        ITEM: np.concatenate([r.item_ids for r in rows]),
        LABEL: np.concatenate([r.labels for r in rows]),
        ROUND: round_index,
    })


def shuffled(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def rounds_in_order(rounds: Sequence[pd.DataFrame],
                    rng: np.random.Generator) -> pd.DataFrame:
    """The pipeline's order: each round shuffled on its own, rounds one
    after the other."""
    return pd.concat([shuffled(r, rng) for r in rounds], ignore_index=True)


def rounds_mixed(rounds: Sequence[pd.DataFrame],
                 rng: np.random.Generator) -> pd.DataFrame:
    """The former order: one permutation over every round's rows."""
    return shuffled(pd.concat(rounds, ignore_index=True), rng)


ORDERS: Dict[str, Callable[[Sequence[pd.DataFrame], np.random.Generator],
                           pd.DataFrame]] = {IN_ORDER: rounds_in_order,
                                             MIXED: rounds_mixed}


# ------------------------------------------------------ transformed features


class FeatureSpace(NamedTuple):
    """Transform's representation, built in numpy: vocabularies of the fit
    part (OOV index = vocabulary size) and the genres multi-hot of every
    item that can be scored (the train catalog)."""
    user_vocab: np.ndarray  # sorted ids
    item_vocab: np.ndarray  # sorted ids
    catalog_items: np.ndarray  # sorted ids, aligned with genre_table
    genre_table: np.ndarray  # float32 [catalog items, len(GENRES)]
    genre_id_table: np.ndarray  # int64 genre_ids of genre_table
    user_history: history.UserHistory  # the fit part's (user, item) pairs
    @property
    def num_users(self) -> int:
        return len(self.user_vocab) + features.NUM_OOV_BUCKETS

    @property
    def num_items(self) -> int:
        return len(self.item_vocab) + features.NUM_OOV_BUCKETS


def feature_space(fit: pd.DataFrame,
                  train_catalog: catalog_lib.Catalog) -> FeatureSpace:
    # Transform orders vocabularies by frequency; any fixed order serves the
    # identity columns equally.
    multi_hot = genre_multi_hot(train_catalog.genres)
    return FeatureSpace(
        user_vocab=np.unique(fit[USER].to_numpy()),
        item_vocab=np.unique(fit[ITEM].to_numpy()),
        catalog_items=train_catalog.item_ids,
        genre_table=multi_hot,
        genre_id_table=preprocessing.genre_ids(multi_hot).numpy(),
        user_history=fit_history(fit))


def fit_history(fit: pd.DataFrame) -> history.UserHistory:
    """The Trainer's history table of the fit part (its positives), without
    item-item scores (space_for adds those a variant reads)."""
    users = np.unique(fit[USER].to_numpy())
    items = np.unique(fit[ITEM].to_numpy())
    return history.build_user_history(
        vocabulary_index(users, fit[USER].to_numpy()),
        vocabulary_index(items, fit[ITEM].to_numpy()),
        len(users) + features.NUM_OOV_BUCKETS)


def genre_multi_hot(genres: np.ndarray) -> np.ndarray:
    """'|'-joined genre strings -> the Transform's multi-hot rows."""
    return preprocessing.multi_hot_genres(
        tf.constant(list(genres), tf.string)).numpy()


def vocabulary_index(vocab: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each id in the sorted vocab; len(vocab) (OOV) if absent."""
    ids = np.asarray(ids)
    positions = np.minimum(np.searchsorted(vocab, ids), len(vocab) - 1)
    return np.where(vocab[positions] == ids, positions,
                    len(vocab)).astype(np.int64)


def model_inputs(space: FeatureSpace, user_ids: np.ndarray,
                 item_ids: np.ndarray, batch_size: int,
                 labels: np.ndarray = None) -> tf.data.Dataset:
    """Batches of transformed features (with labels, if given) of raw ids,
    in the given row order."""
    catalog_rows = np.searchsorted(space.catalog_items, item_ids)
    columns = (vocabulary_index(space.user_vocab, user_ids),
               vocabulary_index(space.item_vocab, item_ids),
               catalog_rows.astype(np.int64))
    if labels is not None:
        columns += (np.asarray(labels, np.float32)[:, None],)
    genre_table = tf.constant(space.genre_table)
    genre_id_table = tf.constant(space.genre_id_table)

    def to_features(user, item, catalog_row, *label):
        transformed = {USER_XF: user, ITEM_XF: item,
                       GENRES_XF: tf.gather(genre_table, catalog_row),
                       GENRE_IDS_XF: tf.gather(genre_id_table, catalog_row)}
        transformed = history.add_history(transformed, space.user_history)
        return (transformed, label[0]) if label else transformed

    return (tf.data.Dataset.from_tensor_slices(columns).batch(batch_size)
            .map(to_features).prefetch(2))


# ---------------------------------------------------------- model and pool


def run_config(model_dir: str, seed: int) -> tf_estimator.RunConfig:
    # One checkpoint at the end (predict reads it), no summaries.
    never = 10**9
    return tf_estimator.RunConfig(
        model_dir=model_dir, tf_random_seed=seed,
        save_checkpoints_steps=never, save_summary_steps=never,
        log_step_count_steps=never, keep_checkpoint_max=1)


def train_estimator(hparams: HParams, space: FeatureSpace, rows: pd.DataFrame,
                    model_dir: str) -> Tuple[tf_estimator.Estimator, int, float]:
    """(estimator, steps, seconds): one pass over `rows` (every round's
    positives and negatives, sampled beforehand) in their order, partial
    batch dropped: the steps the Trainer takes for the same epochs."""
    steps = max(1, len(rows) // hparams.batch_size)
    estimator = model.build_estimator(
        hparams, space.num_users, space.num_items,
        run_config(model_dir, hparams.random_seed), train_steps=steps)
    start = time.perf_counter()
    estimator.train(lambda: model_inputs(
        space, rows[USER].to_numpy(), rows[ITEM].to_numpy(),
        hparams.batch_size, rows[LABEL].to_numpy()), steps=steps)
    return estimator, steps, time.perf_counter() - start


class Pool(NamedTuple):
    """The (user, item) pairs to rank."""
    user_ids: np.ndarray
    item_ids: np.ndarray


def build_pool(train: pd.DataFrame, fit: pd.DataFrame) -> Pool:
    """Every (train user, train-catalog item) pair not in the fit part."""
    users = np.unique(train[USER].to_numpy())
    items = np.unique(train[ITEM].to_numpy())
    unseen = np.ones((len(users), len(items)), dtype=bool)
    unseen[np.searchsorted(users, fit[USER].to_numpy()),
           np.searchsorted(items, fit[ITEM].to_numpy())] = False
    rows, cols = np.nonzero(unseen)
    return Pool(users[rows], items[cols])


def score_pool(estimator: tf_estimator.Estimator, space: FeatureSpace,
               pool: Pool) -> np.ndarray:
    """The classifier's logit of every pool pair."""
    batches = estimator.predict(
        lambda: model_inputs(space, pool.user_ids, pool.item_ids,
                             PREDICT_BATCH),
        predict_keys=["logits"], yield_single_examples=False)
    return np.concatenate([batch["logits"][:, 0] for batch in batches]
                          ).astype(np.float64)


def popularity_scores(fit: pd.DataFrame, pool: Pool) -> np.ndarray:
    """Each pool item's number of fit ratings."""
    counts = metrics.popularity_scores(fit[ITEM].to_numpy())
    return pd.Series(counts).reindex(pool.item_ids, fill_value=0).to_numpy(
        np.float64)


def ease_scores(fit: pd.DataFrame, pool: Pool,
                l2: float = ease.DEFAULT_L2) -> np.ndarray:
    """EASE alone (recommender/ease.py) fitted on the fit part: each pool
    pair's x_u B[:, i]; 0 for a user or item the fit part lacks."""
    users = np.unique(fit[USER].to_numpy())
    items = np.unique(np.concatenate([fit[ITEM].to_numpy(), pool.item_ids]))
    rated = ease.rated_rows(np.searchsorted(users, fit[USER].to_numpy()),
                            np.searchsorted(items, fit[ITEM].to_numpy()),
                            len(users), len(items))
    rows = vocabulary_index(users, pool.user_ids)
    known = rows < len(users)
    scores = np.zeros(len(rows), np.float64)
    scores[known] = ease.score_pairs(
        ease.ease_weights(rated, l2), rated, rows[known],
        np.searchsorted(items, pool.item_ids[known]))
    return scores


def ranking_at_k(pool: Pool, scores: np.ndarray,
                 holdout: pd.DataFrame) -> Dict[str, float]:
    """precision, recall, ndcg and map @K of the scores against the hold-out."""
    top = metrics.top_k_per_user(pool.user_ids, pool.item_ids, scores, K)
    sums = metrics.ranking_partial_sums(top, holdout[USER].to_numpy(),
                                        holdout[ITEM].to_numpy())
    values = metrics.finalize_ranking_metrics(sums)
    out = {f"{name}@{K}": round(values[f"{name}@k"], 4)
           for name in ("precision", "recall", "ndcg", "map")}
    out["num_users"] = values["num_users"]
    return out


# ------------------------------------------------------------------ study


class SeedData(NamedTuple):
    """What every variant of one seed shares."""
    seed: int
    fit: pd.DataFrame
    holdout: pd.DataFrame
    fit_catalog: catalog_lib.Catalog
    space: FeatureSpace
    pool: Pool
    popularity: Dict[str, float]
    ease: Dict[str, float]  # EASE alone (L2 300) on the same pool


HOLDOUT_FUNCTIONS = {RANDOM_HOLDOUT: split_holdout,
                     STRATIFIED_HOLDOUT: split_holdout_stratified}


def prepare_seed(train: pd.DataFrame, train_catalog: catalog_lib.Catalog,
                 seed: int, holdout: str = RANDOM_HOLDOUT) -> SeedData:
    """Hold-out, features, pool and the popularity and EASE baselines of
    one seed."""
    fit, holdout = HOLDOUT_FUNCTIONS[holdout](train, HOLDOUT_FRACTION, seed)
    pool = build_pool(train, fit)
    return SeedData(
        seed=seed, fit=fit, holdout=holdout, fit_catalog=sampler_catalog(fit),
        space=feature_space(fit, train_catalog), pool=pool,
        popularity=ranking_at_k(pool, popularity_scores(fit, pool), holdout),
        ease=ranking_at_k(pool, ease_scores(fit, pool), holdout))


def variant_hparams(variant: Variant, seed: int) -> HParams:
    """The defaults with the variant's sampling (its rounds are epochs) and
    overrides; runs recorded before issue 23 say epochs 1 over 6 rounds."""
    return dataclasses.replace(
        HParams.ranking_defaults(), random_seed=seed,
        negatives_per_positive=variant.negatives_per_positive,
        epochs=variant.rounds, **dict(variant.hparam_overrides))


def space_for(hparams: HParams, space: FeatureSpace) -> FeatureSpace:
    """`space` with the item-item tables the variant's model reads, as the
    Trainer builds them (train_tables.with_item_scores)."""
    return space._replace(user_history=train_tables.with_item_scores(
        space.user_history, hparams, space.num_items))


def run_variant(variant: Variant, prepared: SeedData,
                blend_weights: Sequence[float] = ()) -> Dict[str, Any]:
    """Sample, order, train and rank one variant for one seed; with
    blend_weights, also rank by the same trained model's logit + w * its
    EASE input for each w (HParams.ease_blend_weight: only predictions
    change, so one training serves every w)."""
    seed = prepared.seed
    hparams = variant_hparams(variant, seed)
    start = time.perf_counter()
    rounds = sample_rounds(prepared.fit, prepared.fit_catalog,
                           variant.negatives_per_positive, variant.rounds,
                           seed)
    rows = ORDERS[variant.order](rounds, np.random.default_rng(seed))
    sample_seconds = time.perf_counter() - start
    space = space_for(hparams, prepared.space)
    with tempfile.TemporaryDirectory(prefix="ranking-validation-") as tmp:
        estimator, steps, train_seconds = train_estimator(
            hparams, space, rows, tmp)
        start = time.perf_counter()
        scores = score_pool(estimator, space, prepared.pool)
        score_seconds = time.perf_counter() - start
        blends = {str(weight): ranking_at_k(
            prepared.pool, score_pool(blended_estimator(
                hparams, space, estimator.config, weight), space,
                prepared.pool), prepared.holdout)
            for weight in blend_weights}
    return {
        "variant": variant.name, "seed": seed,
        "params": {"order": variant.order,
                   "negatives_per_positive": variant.negatives_per_positive,
                   "rounds": variant.rounds, "hparams": hparams.to_dict()},
        "train_rows": len(rows), "steps": steps,
        "sample_seconds": round(sample_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "score_seconds": round(score_seconds, 1),
        "model": ranking_at_k(prepared.pool, scores, prepared.holdout),
        "popularity": prepared.popularity,
        "ease": prepared.ease,
        **({"ease_blend": blends} if blends else {}),
    }


def blended_estimator(hparams: HParams, space: FeatureSpace,
                      config: tf_estimator.RunConfig,
                      weight: float) -> tf_estimator.Estimator:
    """The estimator of `hparams` with ease_blend_weight `weight`, over the
    trained checkpoint in config.model_dir."""
    return model.build_estimator(
        dataclasses.replace(hparams, ease_blend_weight=weight),
        space.num_users, space.num_items, config)


def variant_medians(runs: List[Dict], variant: Variant) -> Dict[str, Any]:
    """Medians over the seeds of one variant's metrics and timings."""
    mine = [run for run in runs if run["variant"] == variant.name]
    figures = [{**{name: value for name, value in run["model"].items()
                   if name != "num_users"},
                "steps": run["steps"], "train_seconds": run["train_seconds"]}
               for run in mine]
    def baseline(name):  # runs before issue 23 have no EASE baseline
        return [{metric: value for metric, value in run[name].items()
                 if metric != "num_users"} for run in mine if name in run]
    ease_runs = baseline("ease")
    return {"description": variant.description, "seeds": len(mine),
            "model": common.medians(figures),
            "popularity": common.medians(baseline("popularity")),
            **({"ease": common.medians(ease_runs),
                "ease_seeds": len(ease_runs)} if ease_runs else {}),
            **blend_medians(mine)}


def blend_medians(runs: List[Dict]) -> Dict[str, Any]:
    """{"ease_blend": {weight: medians, with "seeds"}} over the runs that
    ranked with that blend weight; {} when none did."""
    weights = sorted({weight for run in runs
                      for weight in run.get("ease_blend", {})}, key=float)
    out = {}
    for weight in weights:
        figures = [{name: value for name, value in
                    run["ease_blend"][weight].items() if name != "num_users"}
                   for run in runs if weight in run.get("ease_blend", {})]
        out[weight] = {**common.medians(figures), "seeds": len(figures)}
    return {"ease_blend": out} if out else {}


def machine_info() -> Dict[str, Any]:
    """As pipeline_benchmark.py records it."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


def medians_table(medians: Dict[str, Dict]) -> str:
    lines = [f"{'variant':<22} {'ndcg@10':>8} {'prec@10':>8} {'steps':>6} "
             f"{'train_s':>8}"]
    for name, entry in medians.items():
        m = entry["model"]
        lines.append(f"{name:<22} {m[f'ndcg@{K}']:>8.4f} "
                     f"{m[f'precision@{K}']:>8.4f} {m['steps']:>6.0f} "
                     f"{m['train_seconds']:>8.1f}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-root", default=configs.DEFAULT_OUTPUT_ROOT)
    parser.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    parser.add_argument("--data-csv", default="",
                        help="read this ratings CSV and split it (--split) "
                             "instead of the metadata store's train split")
    parser.add_argument("--split", choices=SPLITS, default=USER_STRATIFIED)
    parser.add_argument("--split-seed", type=int, default=DEFAULT_SPLIT_SEED)
    parser.add_argument("--train-fraction", type=float,
                        default=DEFAULT_TRAIN_FRACTION)
    parser.add_argument("--holdout", choices=HOLDOUTS, default=None,
                        help="default: user_stratified with --data-csv, "
                             "random otherwise")
    parser.add_argument("--variants", nargs="+", choices=list(ALL_VARIANTS),
                        default=list(VARIANTS_BY_NAME))
    parser.add_argument("--seeds", nargs="+", type=int,
                        default=list(DEFAULT_SEEDS))
    parser.add_argument("--append", action="store_true",
                        help="keep the runs already in --out (of the same "
                             "source and protocol), replacing only the "
                             "(variant, seed) pairs run again")
    parser.add_argument("--ease-blend-weights", nargs="+", type=float,
                        default=[],
                        help="also rank each trained model by logit + w * "
                             "its EASE input for each w "
                             "(HParams.ease_blend_weight)")
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.holdout is None:
        args.holdout = (STRATIFIED_HOLDOUT if args.data_csv
                        else RANDOM_HOLDOUT)
    if args.data_csv and args.holdout == STRATIFIED_HOLDOUT and \
            args.split_seed in args.seeds:
        parser.error(f"hold-out seeds {args.seeds} must differ from the "
                     f"split seed {args.split_seed}: the same seed would "
                     f"shuffle each user's rows the same way")
    return args


def read_train(args: argparse.Namespace
               ) -> Tuple[pd.DataFrame, Dict[str, Any]]:
    """The train split the study reads, and where it came from."""
    if args.data_csv:
        train = read_csv_train_split(args.data_csv, args.split_seed,
                                     args.train_fraction)
        return train, {"data_csv": args.data_csv, "split": args.split,
                       "split_seed": args.split_seed,
                       "train_fraction": args.train_fraction,
                       "part": TRAIN_SPLIT}
    train, examples_uri = read_train_split(args.output_root,
                                           args.pipeline_name)
    return train, {"examples_uri": examples_uri, "split": TRAIN_SPLIT}


def previous_runs(path: str, source: Dict, protocol: Dict,
                  replaced: set) -> List[Dict]:
    """The runs of an earlier report at `path` (for --append), but those
    of the (variant, seed) pairs in `replaced`; refuses a report of another
    source or protocol."""
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        report = json.load(handle)
    for name, mine in (("source", source), ("protocol", protocol)):
        theirs = {k: v for k, v in report.get(name, {}).items()
                  if k != "seeds"}
        if theirs != {k: v for k, v in mine.items() if k != "seeds"}:
            raise SystemExit(f"{path} has another {name}: {theirs}")
    return [run for run in report.get("runs", [])
            if (run["variant"], run["seed"]) not in replaced]


def main() -> None:
    args = parse_args()
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.WARN)
    started = time.perf_counter()
    train, source = read_train(args)
    train_catalog = sampler_catalog(train)
    source.update({"rows": len(train), "users": int(train[USER].nunique()),
                   "items": len(train_catalog.item_ids)})
    protocol = {"holdout": args.holdout, "holdout_fraction": HOLDOUT_FRACTION,
                "k": K,
                "pool": "every (train user, train-catalog item) pair not in "
                        "the fit part"}
    variants = [ALL_VARIANTS[name] for name in args.variants]
    runs = (previous_runs(args.out, source, protocol,
                          {(v.name, s) for v in variants for s in args.seeds})
            if args.append else [])
    command = " ".join(["benchmarks/ranking_validation.py", *sys.argv[1:]])
    seeds, commands = {}, [command]
    if args.append and os.path.exists(args.out):
        with open(args.out) as handle:
            earlier = json.load(handle)
        seeds = earlier.get("seeds", {})
        commands = earlier.get("commands", [earlier.get("command")]) + commands

    def report() -> Dict[str, Any]:
        names = list(dict.fromkeys(run["variant"] for run in runs))
        medians = {name: variant_medians(runs, ALL_VARIANTS[name])
                   for name in names}
        return {
            "benchmark": "ranking_validation",
            "command": command,
            # --append: every invocation that added runs, in order.
            "commands": commands,
            "date": time.strftime("%Y-%m-%d"),
            "machine": machine_info(),
            "source": source,
            "protocol": {**protocol, "seeds": sorted(
                {run["seed"] for run in runs})},
            "seeds": seeds,
            "runs": runs,
            "medians": medians,
            **({"chosen": SEARCH_CHOSEN,
                "chosen_ease_blend_weight": CHOSEN_EASE_BLEND_WEIGHT}
               if SEARCH_CHOSEN in medians else {}),
            "wall_seconds": round(time.perf_counter() - started, 1),
        }

    for seed in args.seeds:
        prepared = prepare_seed(train, train_catalog, seed, args.holdout)
        seeds[str(seed)] = {"fit_rows": len(prepared.fit),
                            "holdout_rows": len(prepared.holdout),
                            "pool_pairs": len(prepared.pool.user_ids),
                            "popularity": prepared.popularity,
                            "ease": prepared.ease}
        for variant in variants:
            run = run_variant(variant, prepared, args.ease_blend_weights)
            runs.append(run)
            print(f"{variant.name:<22} seed {seed:<4} steps {run['steps']:>5} "
                  f"train {run['train_seconds']:>5.1f}s "
                  f"ndcg@{K} {run['model'][f'ndcg@{K}']:.4f} "
                  f"precision@{K} {run['model'][f'precision@{K}']:.4f} "
                  f"(popularity ndcg@{K} "
                  f"{run['popularity'][f'ndcg@{K}']:.4f}, EASE alone "
                  f"{run['ease'][f'ndcg@{K}']:.4f} / "
                  f"{run['ease'][f'precision@{K}']:.4f})"
                  + "".join(f", blend {w}: {m[f'ndcg@{K}']:.4f} / "
                            f"{m[f'precision@{K}']:.4f}"
                            for w, m in run.get("ease_blend", {}).items()),
                  flush=True)
            # After every run: a cut-short search keeps what it measured.
            common.write_report(args.out, report())
    final = report()
    print(medians_table(final["medians"]))
    common.write_report(args.out, final)


if __name__ == "__main__":
    main()
