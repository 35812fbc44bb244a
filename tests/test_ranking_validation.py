"""The ranking validation study's hold-out split and row orders
(benchmarks/ranking_validation.py); no training."""
import pathlib
import sys

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from benchmarks import ranking_validation as rv  # noqa: E402

# Ratings per user -> round(20%) held out: 10 -> 2, 8 -> 2 (1.6),
# 7 -> 1 (1.4), 5 -> 1, 3 -> 1 (0.6), 1 -> 0 (0.2).
ROWS_PER_USER = {1: 10, 2: 8, 3: 7, 4: 5, 5: 3, 6: 1}
EXPECTED_HELD = {1: 2, 2: 2, 3: 1, 4: 1, 5: 1, 6: 0}
KEY = [rv.USER, rv.ITEM]


def ratings() -> pd.DataFrame:
    """Each user rates items 1..n (n from ROWS_PER_USER)."""
    rows = [(user, item, float(1 + item % 5), b"Comedy|Drama")
            for user, count in ROWS_PER_USER.items()
            for item in range(1, count + 1)]
    return pd.DataFrame(rows, columns=[rv.USER, rv.ITEM, "rating", "genres"])


def pairs(frame: pd.DataFrame) -> list:
    return sorted(map(tuple, frame[KEY].to_numpy().tolist()))


def test_holdout_takes_rounded_fifth_of_each_user():
    _, holdout = rv.split_holdout(ratings(), 0.2, seed=42)
    held = holdout.groupby(rv.USER).size().to_dict()
    assert {u: held.get(u, 0) for u in ROWS_PER_USER} == EXPECTED_HELD


def test_holdout_parts_are_disjoint_and_cover_the_input():
    train = ratings()
    fit, holdout = rv.split_holdout(train, 0.2, seed=42)
    assert not set(pairs(fit)) & set(pairs(holdout))
    assert sorted(pairs(fit) + pairs(holdout)) == pairs(train)
    # Whole rows are kept, not only the keys.
    both = pd.concat([fit, holdout]).sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        both, train.sort_values(KEY).reset_index(drop=True))


def test_holdout_is_deterministic_per_seed():
    train = ratings()
    first = rv.split_holdout(train, 0.2, seed=42)[1]
    again = rv.split_holdout(train, 0.2, seed=42)[1]
    other = rv.split_holdout(train, 0.2, seed=7)[1]
    assert pairs(first) == pairs(again)
    assert pairs(first) != pairs(other)


@pytest.fixture(scope="module")
def sampled_rounds():
    """3 rounds of 2 negatives per positive over a 40-item catalog."""
    fit = ratings()
    catalog_rows = pd.DataFrame({rv.ITEM: np.arange(1, 41),
                                 "genres": [b"Drama"] * 40})
    catalog = rv.sampler_catalog(catalog_rows)
    return fit, rv.sample_rounds(fit, catalog, negatives_per_positive=2,
                                 rounds=3, seed=42)


def test_sampled_rounds_hold_each_positive_once(sampled_rounds):
    fit, rounds = sampled_rounds
    assert len(rounds) == 3
    for index, frame in enumerate(rounds):
        assert (frame[rv.ROUND] == index).all()
        assert pairs(frame[frame[rv.LABEL] == 1]) == pairs(fit)
        assert (frame[rv.LABEL] == 0).sum() == 2 * len(fit)


def test_rounds_in_order_keeps_rounds_apart(sampled_rounds):
    fit, rounds = sampled_rounds
    rows = rv.rounds_in_order(rounds, np.random.default_rng(0))
    order = rows[rv.ROUND].to_numpy()
    assert (np.diff(order) >= 0).all()  # round r entirely before r + 1
    for index, frame in enumerate(rounds):
        mine = rows[rows[rv.ROUND] == index]
        assert pairs(mine[mine[rv.LABEL] == 1]) == pairs(fit)
        assert rows_multiset(mine) == rows_multiset(frame)
        # Shuffled within the round, not the sampler's per-user order.
        assert not np.array_equal(mine[rv.ITEM].to_numpy(),
                                  frame[rv.ITEM].to_numpy())


def test_rounds_mixed_keeps_rows_and_mixes_rounds(sampled_rounds):
    _, rounds = sampled_rounds
    rows = rv.rounds_mixed(rounds, np.random.default_rng(0))
    assert rows_multiset(rows) == rows_multiset(pd.concat(rounds))
    assert (np.diff(rows[rv.ROUND].to_numpy()) < 0).any()


def rows_multiset(frame: pd.DataFrame) -> list:
    return sorted(map(tuple, frame[[rv.USER, rv.ITEM, rv.LABEL, rv.ROUND]]
                      .to_numpy().tolist()))


# ------------------------------------------- CSV + per-user stratified path

# user 1: 4 ratings -> 3 train (round(0.75 * 4)); user 2: 2 -> 1 (at least
# one in each split); user 3: 1 -> 1 (train only); user 4: 8 -> 6.
CSV_ROWS = ([(1, item, 4.0, 880000000 + item, "Comedy|Drama")
             for item in (10, 11, 12, 13)]
            + [(2, 10, 5.0, 1, "Comedy|Drama"), (2, 20, 1.0, 2, "")]
            + [(3, 30, 3.0, 3, "Action")]
            + [(4, item, 2.0, 4, "Western") for item in range(40, 48)])
EXPECTED_TRAIN_COUNTS = {1: 3, 2: 1, 3: 1, 4: 6}


def write_csv(path, rows):
    lines = ["user_id,item_id,rating,timestamp,genres"]
    lines += [f"{u},{i},{r},{t},{g}" for u, i, r, t, g in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_csv_train_split_is_the_stratified_train_part(tmp_path):
    train = rv.read_csv_train_split(write_csv(tmp_path / "r.csv", CSV_ROWS),
                                    seed=42, train_fraction=0.75)
    assert list(train.columns) == [rv.USER, rv.ITEM, "rating", "genres"]
    assert train.groupby(rv.USER).size().to_dict() == EXPECTED_TRAIN_COUNTS
    # Whole rows of the CSV, genres as bytes (b"" for an empty cell).
    by_pair = {(u, i): (r, g.encode()) for u, i, r, _, g in CSV_ROWS}
    for user, item, rating, genres in train.itertuples(index=False):
        assert by_pair[(user, item)] == (rating, genres)
    # The train part of splitting.split_user_rows per user, sort keys
    # (item_id, rating, timestamp, genres), as the pipeline's ingestion.
    from components.stratified_example_gen import splitting
    expected = set()
    for user in EXPECTED_TRAIN_COUNTS:
        mine = [row for row in CSV_ROWS if row[0] == user]
        kept, _ = splitting.split_user_rows(
            mine, [row[1:] for row in mine], user, 42, 0.75)
        expected |= {(row[0], row[1]) for row in kept}
    assert set(pairs(train)) == expected


def test_csv_train_split_ignores_file_order_and_depends_on_the_seed(
        tmp_path):
    reordered = CSV_ROWS[::-1]
    first = rv.read_csv_train_split(write_csv(tmp_path / "a.csv", CSV_ROWS))
    again = rv.read_csv_train_split(write_csv(tmp_path / "b.csv", reordered))
    assert pairs(first) == pairs(again)
    others = [pairs(rv.read_csv_train_split(str(tmp_path / "a.csv"), seed))
              for seed in (1, 2, 3)]
    assert any(other != pairs(first) for other in others)


def test_csv_without_a_column_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user_id,item_id,rating,genres\n1,2,3.0,Drama\n")
    with pytest.raises(ValueError, match="timestamp"):
        rv.read_csv_train_split(str(path))


def test_stratified_holdout_gives_every_user_held_out_rows():
    # Per user n -> held n - round(0.8 n), clamped so both parts are
    # non-empty: 10 -> 2, 8 -> 2 (6.4 -> 6 kept), 7 -> 1 (5.6 -> 6 kept),
    # 5 -> 1, 3 -> 1 (2.4 -> 2 kept), 1 -> 0 (a single row stays in fit).
    train = ratings()
    fit, holdout = rv.split_holdout_stratified(train, 0.2, seed=1)
    held = holdout.groupby(rv.USER).size().to_dict()
    assert {u: held.get(u, 0) for u in ROWS_PER_USER} == {
        1: 2, 2: 2, 3: 1, 4: 1, 5: 1, 6: 0}
    assert not set(pairs(fit)) & set(pairs(holdout))
    assert sorted(pairs(fit) + pairs(holdout)) == pairs(train)
    # A user with 2 rows: the random carve holds none out (round(0.4) = 0),
    # the stratified one holds one out.
    two = pd.DataFrame({rv.USER: [9, 9], rv.ITEM: [1, 2],
                        "rating": [1.0, 2.0], "genres": [b"", b""]})
    assert len(rv.split_holdout(two, 0.2, seed=1)[1]) == 0
    assert len(rv.split_holdout_stratified(two, 0.2, seed=1)[1]) == 1
    # Deterministic per seed, different across seeds.
    assert pairs(rv.split_holdout_stratified(train, 0.2, 1)[1]) == \
        pairs(holdout)
    assert any(pairs(rv.split_holdout_stratified(train, 0.2, s)[1])
               != pairs(holdout) for s in (2, 3, 4))


def test_args_csv_path_defaults_to_stratified_holdout_and_refuses_the_split_seed():
    args = rv.parse_args(["--data-csv", "r.csv", "--seeds", "1", "2"])
    assert (args.split, args.split_seed, args.holdout) == (
        rv.USER_STRATIFIED, 42, rv.STRATIFIED_HOLDOUT)
    # Without a CSV: the metadata store's split and the random carve, as
    # before.
    assert rv.parse_args([]).holdout == rv.RANDOM_HOLDOUT
    with pytest.raises(SystemExit):
        rv.parse_args(["--data-csv", "r.csv", "--seeds", "42"])


def test_model_inputs_mirror_transforms_genre_ids():
    catalog = rv.sampler_catalog(pd.DataFrame({
        rv.ITEM: [5, 7, 9], "genres": [b"Action|Comedy", b"", b"Western"]}))
    fit = pd.DataFrame({rv.USER: [3, 1], rv.ITEM: [5, 7]})
    space = rv.feature_space(fit, catalog)
    batch = next(iter(rv.model_inputs(space, np.array([1, 3, 8]),
                                      np.array([9, 5, 7]), batch_size=8)))
    assert batch[rv.USER_XF].numpy().tolist() == [0, 1, 2]  # 8: OOV
    assert batch[rv.ITEM_XF].numpy().tolist() == [2, 0, 1]  # 9: OOV
    ids = batch[rv.GENRE_IDS_XF].numpy()
    assert [sorted(i for i in row if i >= 0) for row in ids] == [
        [18], [0, 4], []]
    assert ids.shape == (3, 20) and (ids[ids < 0] == -1).all()
    np.testing.assert_array_equal(batch[rv.GENRES_XF].numpy() > 0, ids >= 0)
