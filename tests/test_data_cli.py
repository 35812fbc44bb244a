"""`python -m movielens_data` as a subprocess."""
import re
import subprocess
import sys

import pytest


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "movielens_data", *args],
                          capture_output=True, text=True, timeout=120)


def test_synthetic_then_validate(tmp_path):
    dest = tmp_path / "syn"
    result = run_cli("synthetic", "--users", "20", "--items", "15",
                     "--ratings", "200", "--seed", "1", "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    assert f"ratings: {dest / 'ratings.csv'} (200 ratings, 20 users, " \
        "15 items)" in result.stdout
    assert (tmp_path / "syn-items.csv").is_file()
    assert "writing 200 ratings" in result.stderr  # progress on stderr
    result = run_cli("validate", str(dest))
    assert result.returncode == 0, result.stderr
    assert "(200 ratings, 20 users, 15 items)" in result.stdout


def test_bad_data_exits_2_with_located_message(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("user_id,item_id,rating,timestamp,genres\n"
                    "1,2,abc,3,Drama\n")
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {path} line 2, column rating: 'abc' is not a number")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_convert_missing_items_file_exits_2(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ratings.dat").write_text("1::2::3::4\n")
    result = run_cli("convert", "--source", str(tmp_path / "src"),
                     "--dest", str(tmp_path / "out"))
    assert result.returncode == 2
    assert f"error: {tmp_path / 'src' / 'movies.dat'}: file not found" in \
        result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_impossible_synthetic_sizes_exit_2(tmp_path):
    result = run_cli("synthetic", "--users", "3", "--items", "2",
                     "--ratings", "7", "--seed", "1", "--dest",
                     str(tmp_path / "x"))
    assert result.returncode == 2
    assert "error: 7 ratings exceed the 6 possible" in result.stderr
    assert "Traceback" not in result.stderr


def test_synthetic_in_movielens_1m_format_converts_back_to_the_same_ratings(
        tmp_path):
    import pandas as pd
    from movielens_data.output import ML1M_MOVIES_FILE, ML1M_RATINGS_FILE
    from movielens_data.parsers import load_movielens
    from movielens_data.synthetic import generate_ratings
    raw = tmp_path / "ml-1m"
    result = run_cli("synthetic", "--users", "20", "--items", "15",
                     "--ratings", "200", "--seed", "1", "--dest", str(raw),
                     "--format", "ml-1m")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in raw.iterdir()) == [ML1M_MOVIES_FILE,
                                                     ML1M_RATINGS_FILE]
    # GroupLens' own layout: four '::'-separated fields, no header.
    first = (raw / ML1M_RATINGS_FILE).read_text().splitlines()[0]
    assert len(first.split("::")) == 4 and first.split("::")[0].isdigit()
    # The real release's parser reads it back to what was generated.
    data = load_movielens(raw)
    assert data.layout == "ml-1m"
    expected = generate_ratings(20, 15, 200, seed=1)
    pd.testing.assert_frame_equal(
        data.ratings.sort_values(["user_id", "item_id"], ignore_index=True),
        expected.sort_values(["user_id", "item_id"], ignore_index=True),
        check_dtype=False)
    result = run_cli("convert", "--source", str(raw),
                     "--dest", str(tmp_path / "converted"))
    assert result.returncode == 0, result.stderr
    assert "(200 ratings, 20 users, 15 items)" in result.stdout


def test_synthetic_in_movielens_20m_format_converts_to_the_pipeline_csv(
        tmp_path):
    """--half-stars data written as GroupLens ships ml-20m, then converted,
    gives byte for byte what --format pipeline writes directly."""
    sizes = ("--users", "20", "--items", "15", "--ratings", "200", "--seed",
             "4", "--half-stars")
    raw = tmp_path / "ml-20m"
    result = run_cli("synthetic", *sizes, "--format", "ml-20m",
                     "--dest", str(raw))
    assert result.returncode == 0, result.stderr
    assert f"ratings: {raw / 'ratings.csv'} (200 ratings, MovieLens-20M " \
        f"format; turn it into a pipeline CSV with `convert --source {raw} " \
        "--dest ...`)" in result.stdout
    assert sorted(p.name for p in raw.iterdir()) == ["movies.csv",
                                                    "ratings.csv"]
    lines = (raw / "ratings.csv").read_text().splitlines()
    assert lines[0] == "userId,movieId,rating,timestamp"
    assert any(line.split(",")[2].endswith(".5") for line in lines[1:])
    result = run_cli("convert", "--source", str(raw),
                     "--dest", str(tmp_path / "data" / "converted"))
    assert result.returncode == 0, result.stderr
    assert "(200 ratings, 20 users, 15 items)" in result.stdout
    result = run_cli("synthetic", *sizes, "--dest",
                     str(tmp_path / "data" / "direct"))
    assert result.returncode == 0, result.stderr
    for name in ("converted/ratings.csv", "converted-items.csv"):
        direct = name.replace("converted", "direct")
        assert (tmp_path / "data" / name).read_bytes() == \
            (tmp_path / "data" / direct).read_bytes()


def test_synthetic_size_preset_end_to_end(tmp_path):
    """--size ml-100k (the smallest release) in ml-10m's '::' files, then
    converted: exactly the release's users, movies and ratings."""
    raw = tmp_path / "ml-10M100K"
    result = run_cli("synthetic", "--size", "ml-100k", "--seed", "1",
                     "--format", "ml-10m", "--dest", str(raw))
    assert result.returncode == 0, result.stderr
    assert "generating 100000 ratings (943 users, 1682 items, whole stars)" \
        in result.stderr
    assert sorted(p.name for p in raw.iterdir()) == ["movies.dat",
                                                    "ratings.dat"]
    result = run_cli("convert", "--source", str(raw),
                     "--dest", str(tmp_path / "ml-100k"))
    assert result.returncode == 0, result.stderr
    assert f"ratings: {tmp_path / 'ml-100k' / 'ratings.csv'} (100000 " \
        "ratings, 943 users, 1682 items)" in result.stdout
    assert (tmp_path / "ml-100k-items.csv").is_file()


@pytest.mark.parametrize("args,message", [
    (("--size", "ml-1m", "--users", "5"),
     "give either --size or --users, --items and --ratings, not both"),
    (("--users", "5", "--items", "5"),
     "give --size, or all of --users, --items and --ratings"),
    (("--size", "ml-10m", "--format", "ml-1m"),
     "MovieLens-1M files hold whole stars only"),
    (("--users", "20", "--items", "15", "--ratings", "200", "--half-stars",
      "--format", "ml-1m"), "MovieLens-1M files hold whole stars only"),
])
def test_bad_synthetic_options_exit_2_before_generating(tmp_path, args,
                                                        message):
    result = run_cli("synthetic", *args, "--seed", "1",
                     "--dest", str(tmp_path / "x"))
    assert result.returncode == 2
    assert f"error: {message}" in result.stderr
    assert "generating" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_every_synthetic_option_states_its_default():
    result = run_cli("synthetic", "--help")
    assert result.returncode == 0
    # One block per option: "  --name ..." and its indented help lines.
    blocks = {block.split()[0]: " ".join(block.split())
              for block in re.split(r"\n  (?=-)", result.stdout)[1:]}
    for option in ("--size", "--users", "--items", "--ratings", "--format",
                   "--half-stars"):
        assert "default" in blocks[option], blocks[option]
