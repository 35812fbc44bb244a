"""The synthetic ratings generator and the GroupLens release files."""
import hashlib
import time

import numpy as np
import pandas as pd
import pytest

from movielens_data.errors import DataError
from movielens_data.output import (RAW_FORMATS, write_ml1m_files,
                                   write_pipeline_csv, write_raw_release)
from movielens_data.parsers import convert_folder, load_movielens
from movielens_data.synthetic import (MIN_RATINGS_PER_USER, PRESETS,
                                      SizePreset, generate_preset,
                                      generate_ratings, synthetic_items)
from movielens_data.validate import validate_pipeline_csv
from movielens_features import CSV_COLUMNS, GENRES

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
    # Pinned like PINNED_SHA256_PREFIX (numpy 1.24.4, pandas 1.5.3).
    digest = hashlib.sha256(pd.util.hash_pandas_object(
        data, index=False).to_numpy().tobytes()).hexdigest()
    assert digest[:16] == "1f4e8d87dc2b2aff"


# sha256 of generate_ratings(60, 45, 900, seed=7).to_csv(index=False),
# numpy 1.24.4. The synthetic benchmarks and tests depend on these exact
# ratings: change it only on purpose (a numpy upgrade, a new generator);
# the ML-1M size is pinned in test_movielens_1m_size_is_fast.
PINNED_SHA256_PREFIX = "320e3d24d62a4cbf"


def test_whole_star_output_is_pinned(ratings):
    digest = hashlib.sha256(ratings.to_csv(index=False).encode()).hexdigest()
    assert digest[:16] == PINNED_SHA256_PREFIX


def test_presets_are_the_release_shapes():
    assert PRESETS == {
        "ml-100k": SizePreset(943, 1_682, 100_000, half_stars=False),
        "ml-1m": SizePreset(6_040, 3_706, 1_000_209, half_stars=False),
        "ml-10m": SizePreset(69_878, 10_677, 10_000_054, half_stars=True),
        "ml-20m": SizePreset(138_493, 26_744, 20_000_263, half_stars=True),
    }
    for preset in PRESETS.values():  # each is a size the generator takes
        assert preset.ratings >= MIN_RATINGS_PER_USER * preset.users
        assert preset.ratings <= preset.users * preset.items


HALF_STARS = {0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0}


@pytest.mark.parametrize("name", ["ml-10m", "ml-20m"])
def test_scaled_down_preset_has_exact_counts_and_half_stars(monkeypatch,
                                                            name):
    """Users and ratings of the release / 1000, movies / 10, generated
    through generate_preset."""
    real = PRESETS[name]
    small = SizePreset(real.users // 1000, real.items // 10,
                       real.ratings // 1000, real.half_stars)
    monkeypatch.setitem(PRESETS, "small", small)
    data = generate_preset("small", seed=3)
    assert len(data) == small.ratings
    assert data["user_id"].nunique() == small.users
    assert sorted(data["item_id"].unique()) == list(range(1, small.items + 1))
    values = set(data["rating"].unique())
    assert values <= HALF_STARS
    assert values & {0.5, 1.5, 2.5, 3.5, 4.5}  # halves do occur
    assert not data.duplicated(["user_id", "item_id"]).any()


def test_generate_preset_uses_the_preset(monkeypatch):
    monkeypatch.setitem(PRESETS, "tiny", SizePreset(60, 45, 900, False))
    pd.testing.assert_frame_equal(generate_preset("tiny", seed=7),
                                  generate_ratings(60, 45, 900, seed=7))
    with pytest.raises(ValueError, match="unknown size 'ml-25m'"):
        generate_preset("ml-25m", seed=1)


def test_half_stars_change_only_the_rounding(ratings):
    half = generate_ratings(seed=7, half_stars=True, **SIZES)
    others = [name for name in CSV_COLUMNS if name != "rating"]
    pd.testing.assert_frame_equal(half[others], ratings[others])
    assert set(half["rating"].unique()) <= HALF_STARS
    assert (half["rating"] != half["rating"].round()).any()
    assert (half["rating"] - ratings["rating"]).abs().max() <= 0.5


# Titles the release files must carry intact: a comma and quotes (quoted in
# ml-20m's CSV), '::'-looking colons, a latin-1 letter.
ODD_TITLES = {1: 'Say "Hi", Bob (2015)',
              2: "Star Wars: Episode IV - A New Hope (1977)",
              3: "Léon (1994)"}


@pytest.mark.parametrize("release,half_stars,layout", [
    ("ml-1m", False, "ml-1m"),
    ("ml-10m", True, "ml-1m"),   # the '::' layout reads both
    ("ml-20m", True, "ml-20m"),
])
def test_raw_release_round_trips_through_the_converter(
        tmp_path, release, half_stars, layout):
    ratings = generate_ratings(40, 30, 600, seed=11, half_stars=half_stars)
    items = synthetic_items(ratings)
    items["title"] = items["item_id"].map(ODD_TITLES).fillna(items["title"])
    assert items["genres"].str.contains("Children's").any()  # respelled
    folder = write_raw_release(ratings, items, tmp_path / release, release)
    form = RAW_FORMATS[release]
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [form.ratings_file, form.movies_file])
    movies = (folder / form.movies_file).read_bytes().decode(form.encoding)
    assert ("Children's" in movies) == (release == "ml-1m")

    data = load_movielens(folder)
    assert data.layout == layout
    pd.testing.assert_frame_equal(data.ratings, ratings)
    pd.testing.assert_frame_equal(data.items, items)
    # Converting gives byte for byte the pipeline CSV written directly.
    ratings_csv, _, _ = convert_folder(folder, tmp_path / "converted")
    direct = write_pipeline_csv(ratings, tmp_path / "direct")
    assert ratings_csv.read_bytes() == direct.read_bytes()


TINY = pd.DataFrame({"user_id": [7, 3, 7], "item_id": [10, 29, 29],
                     "rating": [4.0, 3.5, 0.5],
                     "timestamp": [838985046, 838983525, 1136075494],
                     "genres": ["Children's|Comedy", "IMAX", ""]})
TINY_ITEMS = pd.DataFrame({"item_id": [10, 29],
                           "title": ["Toy Story (1995)",
                                     "City of Lost Children, The (1995)"],
                           "genres": ["Children's|Comedy", "IMAX"]})


@pytest.mark.parametrize("release,ratings_text,movies_text", [
    ("ml-10m",
     "7::10::4::838985046\n3::29::3.5::838983525\n7::29::0.5::1136075494\n",
     "10::Toy Story (1995)::Children|Comedy\n"
     "29::City of Lost Children, The (1995)::IMAX\n"),
    ("ml-20m",
     "userId,movieId,rating,timestamp\n7,10,4.0,838985046\n"
     "3,29,3.5,838983525\n7,29,0.5,1136075494\n",
     "movieId,title,genres\n10,Toy Story (1995),Children|Comedy\n"
     "29,\"City of Lost Children, The (1995)\",IMAX\n"),
])
def test_raw_files_are_spelled_as_the_release(tmp_path, release,
                                              ratings_text, movies_text):
    form = RAW_FORMATS[release]
    folder = write_raw_release(TINY, TINY_ITEMS, tmp_path, release)
    assert (folder / form.ratings_file).read_text() == ratings_text
    assert (folder / form.movies_file).read_text() == movies_text


def test_release_writer_refuses_what_the_release_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match=r"rating 3\.5 cannot be written in "
                       r"ml-1m format \(ratings.dat holds whole stars"):
        write_raw_release(TINY, TINY_ITEMS, tmp_path / "a", "ml-1m")
    assert not (tmp_path / "a" / "ratings.dat").exists()
    off_scale = TINY.assign(rating=[4.0, 3.25, 0.5])
    with pytest.raises(ValueError, match=r"rating 3\.25 cannot be written"):
        write_raw_release(off_scale, TINY_ITEMS, tmp_path / "b", "ml-20m")
    write_raw_release(TINY, TINY_ITEMS, tmp_path / "c", "ml-20m")
    with pytest.raises(DataError, match="already holds ratings.csv"):
        write_raw_release(TINY, TINY_ITEMS, tmp_path / "c", "ml-10m")


def test_ml1m_writer_keeps_its_format(tmp_path):
    whole = TINY.assign(rating=[4.0, 3.0, 1.0])
    folder = write_ml1m_files(whole, TINY_ITEMS, tmp_path)
    assert (folder / "ratings.dat").read_text() == (
        "7::10::4::838985046\n3::29::3::838983525\n7::29::1::1136075494\n")
    assert (folder / "movies.dat").read_bytes().decode("latin-1") == (
        "10::Toy Story (1995)::Children's|Comedy\n"
        "29::City of Lost Children, The (1995)::IMAX\n")


def test_writing_goes_block_by_block(tmp_path, monkeypatch):
    import movielens_data.output as output
    monkeypatch.setattr(output, "_RAW_CHUNK_ROWS", 7)
    ratings = generate_ratings(20, 15, 200, seed=2, half_stars=True)
    folder = write_raw_release(ratings, synthetic_items(ratings),
                               tmp_path, "ml-20m")
    pd.testing.assert_frame_equal(load_movielens(folder).ratings, ratings)
