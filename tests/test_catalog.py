"""recommender.catalog: one rule for an item's genres, wherever it is built.

Before the shared core, the TopKEvaluator's catalog kept an item's first
genres value and the NegativeSampler's the greatest string; the one rule now
is the longest string, ties to the greater one (any genre beats none).
"""
import numpy as np

from recommender.catalog import (build_catalog, catalog_of_items,
                                 preferred_genres)
from topk_fixtures import rows_frame

# (user, item, rating, genres, timestamp). Checked by hand:
#   item 3: b"" then b"Drama". First occurrence: b"" (the old evaluator
#     rule); greatest: b"Drama" (the old sampler rule); rule: b"Drama".
#   item 7: b"Comedy" then b"Action|Comedy". First occurrence and greatest
#     both b"Comedy"; rule (longest): b"Action|Comedy".
#   item 9: b"War" (3 bytes) then b"Sci-Fi" (6): first occurrence and
#     greatest both b"War"; rule: b"Sci-Fi".
#   item 11: b"Drama" then b"Crime", 5 bytes each: the greater, b"Drama".
TRAIN_ROWS = [(1, 3, 4.0, None, 1), (1, 7, 3.0, b"Comedy", 2),
              (2, 9, 5.0, b"War", 3), (2, 11, 2.0, b"Drama", 4)]
EVAL_ROWS = [(2, 3, 1.0, b"Drama", 5), (2, 7, 4.0, b"Action|Comedy", 6),
             (1, 9, 3.0, b"Sci-Fi", 7), (1, 11, 4.0, b"Crime", 8)]
EXPECTED = {3: b"Drama", 7: b"Action|Comedy", 9: b"Sci-Fi", 11: b"Drama"}


def test_preferred_genres_is_the_longest_then_the_greatest():
    assert preferred_genres([b"", b"Drama"]) == b"Drama"
    assert preferred_genres([b"Comedy", b"Action|Comedy"]) == b"Action|Comedy"
    assert preferred_genres([b"Crime", b"Drama"]) == b"Drama"
    assert preferred_genres([b""]) == b""


def test_evaluator_catalog_follows_the_rule_in_any_row_order():
    for train, eval_ in ((TRAIN_ROWS, EVAL_ROWS),
                         (EVAL_ROWS[::-1], TRAIN_ROWS[::-1])):
        catalog = build_catalog(rows_frame(train), rows_frame(eval_))
        assert dict(zip(catalog.item_ids.tolist(),
                        catalog.genres.tolist())) == EXPECTED


def test_sampler_catalog_follows_the_same_rule():
    pairs = [(row[1], row[3] or b"") for row in TRAIN_ROWS + EVAL_ROWS]
    for ordering in (pairs, pairs[::-1]):
        catalog = catalog_of_items(ordering)
        assert catalog.item_ids.dtype == np.int64
        assert dict(zip(catalog.item_ids.tolist(),
                        catalog.genres.tolist())) == EXPECTED
