"""What the Trainer reads besides its batches: the train split's (user,
movie) history with the item-item scores the model uses, each movie's
genres, the negative sampler's table and the served top-k's tables."""
from typing import List, Optional

import numpy as np
import tensorflow_transform as tft
from absl import logging

import movielens_features as features

from trainer_module import history, negatives, topk_serving
from trainer_module.hparams import HParams


def load_user_history(train_files: List[str],
                      tf_transform_output: tft.TFTransformOutput,
                      hparams: HParams, num_users: int, num_items: int
                      ) -> history.UserHistory:
    """The train split's positives as the history table (history.py)."""
    users, items = history.read_positive_pairs(train_files,
                                               tf_transform_output)
    table = history_table(hparams, users, items, num_users, num_items)
    logging.info("User history: %d (user, movie) pairs of %d users%s",
                 len(table.items), num_users,
                 f", with the EASE inverse of {num_items} movies (L2 "
                 f"{hparams.ease_l2:g})" if hparams.item_ease_feature else "")
    return table


def read_item_genres(train_files: List[str],
                     tf_transform_output: tft.TFTransformOutput,
                     num_items: int) -> np.ndarray:
    """[catalog, len(GENRES)]: the multi-hot genres of each movie of the
    item vocabulary (without its OOV bucket) in the train split."""
    return negatives.read_item_genres(
        train_files, tf_transform_output,
        num_items - features.NUM_OOV_BUCKETS)


def negative_table(user_history: history.UserHistory,
                   item_genres: np.ndarray,
                   num_items: int) -> negatives.NegativeTable:
    """What the in-graph negative sampler draws from: the catalog (the item
    vocabulary, without its OOV bucket), each item's genres
    (read_item_genres) and each user's train movies (never drawn for
    them)."""
    catalog_size = num_items - features.NUM_OOV_BUCKETS
    table = negatives.build_negative_table(user_history, catalog_size,
                                           item_genres)
    logging.info("Negatives: sampled in the input pipeline from %d movies, "
                 "never one a user rated in train (%d user-movie pairs)",
                 catalog_size, len(user_history.items))
    return table


def history_table(hparams: HParams, users, items, num_users: int,
                  num_items: int) -> history.UserHistory:
    """The table of the positives (user, item), with what the model's
    item-item scores need (with_item_scores)."""
    return with_item_scores(
        history.build_user_history(users, items, num_users), hparams,
        num_items)


def with_item_scores(table: history.UserHistory, hparams: HParams,
                     num_items: int) -> history.UserHistory:
    """`table` with the EASE inverse when hparams.item_ease_feature, without
    it otherwise, so the input computes no score the model does not read."""
    table = table._replace(ease_inverse=None, ease_self=None)
    if hparams.item_ease_feature:
        table = history.with_ease(table, num_items, hparams.ease_l2)
    return table


def topk_tables(train_files: List[str],
                tf_transform_output: tft.TFTransformOutput,
                user_history: Optional[history.UserHistory],
                item_genres: Optional[np.ndarray], num_users: int,
                num_items: int) -> topk_serving.TopKTables:
    """What the served top-k ranks (topk_serving.build_tables): the train
    split's movies and each train user's, from the history table and the
    movies' genres when training read them already, else from the train
    files."""
    if user_history is None:
        user_history = history.build_user_history(
            *history.read_positive_pairs(train_files, tf_transform_output),
            num_users)
    if item_genres is None:
        item_genres = read_item_genres(train_files, tf_transform_output,
                                       num_items)
    tables = topk_serving.build_tables(
        user_history,
        tf_transform_output.vocabulary_by_name(features.USER_VOCAB_NAME),
        tf_transform_output.vocabulary_by_name(features.ITEM_VOCAB_NAME),
        item_genres)
    logging.info("Served top-k: %d movies, %d train users, %d (user, movie) "
                 "pairs excluded", len(tables.item_ids), len(tables.user_ids),
                 len(tables.seen))
    return tables
