"""The synthetic ratings generator."""
import time

import numpy as np
import pandas as pd
import pytest

from movielens_data.output import write_pipeline_csv
from movielens_data.synthetic import (MIN_RATINGS_PER_USER,
                                      generate_ratings, synthetic_items)
from movielens_data.validate import validate_pipeline_csv
from trainer_module.features import CSV_COLUMNS, GENRES

SIZES = dict(num_users=60, num_items=45, num_ratings=900)


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return generate_ratings(seed=7, **SIZES)


def test_same_seed_same_data_other_seed_other_data(ratings):
    pd.testing.assert_frame_equal(ratings, generate_ratings(seed=7, **SIZES))
    other = generate_ratings(seed=8, **SIZES)
    assert not other.equals(ratings)
    assert len(other) == len(ratings)


def test_requested_sizes_and_types(ratings):
    assert list(ratings.columns) == list(CSV_COLUMNS)
    assert [str(dtype) for dtype in ratings.dtypes] == [
        "int64", "int64", "float64", "int64", "object"]
    assert len(ratings) == 900
    assert sorted(ratings["user_id"].unique()) == list(range(1, 61))
    assert sorted(ratings["item_id"].unique()) == list(range(1, 46))


def test_no_duplicate_pairs_and_enough_ratings_per_user(ratings):
    assert not ratings.duplicated(["user_id", "item_id"]).any()
    assert ratings.groupby("user_id").size().min() >= MIN_RATINGS_PER_USER


def test_ratings_are_whole_stars(ratings):
    assert set(ratings["rating"].unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ratings["rating"].nunique() >= 4  # not degenerate


def test_genres_known_and_fixed_per_item(ratings):
    per_item = ratings.groupby("item_id")["genres"].nunique()
    assert (per_item == 1).all()
    for value in ratings["genres"].unique():
        names = value.split("|")
        assert 1 <= len(names) <= 3
        assert set(names) <= set(GENRES) - {"IMAX", "unknown"}
        assert names == sorted(names, key=GENRES.index)


def test_timestamps_increase_and_popularity_is_skewed(ratings):
    assert ratings["timestamp"].is_monotonic_increasing
    per_item = ratings.groupby("item_id").size().sort_values()
    assert per_item.iloc[-1] >= 3 * per_item.iloc[len(per_item) // 2]


def test_ratings_carry_a_learnable_user_signal():
    """Per-user means from half of the data predict the other half better
    than the global mean: there is structure for a model to learn."""
    data = generate_ratings(200, 100, 8000, seed=3)
    half = np.arange(len(data)) % 2 == 0
    train, test = data[half], data[~half]
    user_mean = train.groupby("user_id")["rating"].mean()
    predicted = test["user_id"].map(user_mean).fillna(train["rating"].mean())
    global_error = ((test["rating"] - train["rating"].mean()) ** 2).mean()
    user_error = ((test["rating"] - predicted) ** 2).mean()
    assert user_error < 0.9 * global_error


def test_output_passes_the_validator(tmp_path, ratings):
    write_pipeline_csv(ratings, tmp_path / "syn")
    summary = validate_pipeline_csv(tmp_path / "syn")
    assert (summary.rows, summary.users, summary.items) == (900, 60, 45)
    items = synthetic_items(ratings)
    assert items["item_id"].tolist() == list(range(1, 46))
    assert items["title"].iloc[0] == "Synthetic movie 1"


@pytest.mark.parametrize("users,items,count,fragment", [
    (10, 5, 51, "exceed the 50 possible"),
    (10, 50, 49, "too few"),
    (0, 5, 10, "at least one user"),
])
def test_impossible_sizes_are_refused(users, items, count, fragment):
    with pytest.raises(ValueError, match=fragment):
        generate_ratings(users, items, count, seed=0)


def test_every_item_is_rated_even_when_sparse():
    data = generate_ratings(20, 300, 400, seed=5)
    assert data["item_id"].nunique() == 300


def test_dense_sizes_still_work():
    data = generate_ratings(10, 6, 60, seed=1)  # every pair rated
    assert len(data) == 60
    assert not data.duplicated(["user_id", "item_id"]).any()
    assert len(generate_ratings(1, 5, 5, seed=1)) == 5


def test_movielens_1m_size_is_fast():
    start = time.perf_counter()
    data = generate_ratings(6040, 3706, 1_000_209, seed=0)
    assert time.perf_counter() - start < 30
    assert len(data) == 1_000_209
    assert data["user_id"].nunique() == 6040
    assert data["item_id"].nunique() == 3706
