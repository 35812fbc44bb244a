"""reporting.recommend: ranking with a fake model, the CLI on the tiny run.

The fake model scores (item_id // 2), negated for odd users: scores are
known by hand, and items 6 and 7 tie, so the tie rule shows. It comes twice:
with only `serving_raw` (a model exported before `serving_topk`: every pair
scored, as the TopKEvaluator does) and with `serving_topk` over the train
split's movies (trainer_module/topk_serving.py).
"""
import io
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from pipeline import configs
from recommender.catalog import build_catalog
from recommender.scoring import ModelScorer
from reporting import (recommend, recommend_output, recommend_ranking,
                       recommend_sources)
from runtime import metadata_report
from topk_fixtures import save_fake_model
import movielens_features as features
from trainer_module import history, model, topk_serving

USER, ITEM = features.USER_KEY, features.ITEM_KEY
UNKNOWN_USER_LINE = ("user 99999 is not in the data the model was trained "
                     "on; showing the most popular movies instead")

# (user, item, genres); items 1 3 4 6 7 12 20, item 5 etc. do not exist.
TRAIN = [(2, 20, b"Drama"), (2, 4, b"Comedy"), (5, 20, b"Drama"),
         (5, 6, b"Action|War"), (5, 7, b""), (7, 20, b"Drama"), (7, 7, b""),
         (7, 12, b"Horror")]
# User 3 rated item 1 only in eval; item 1 would be its best (score 0).
EVAL = [(3, 1, b"Comedy"), (5, 3, b"Western")]
TITLES = {1: "One", 3: "Three", 4: "Four", 6: "Six", 7: "Seven",
          12: "Twelve", 20: "Twenty"}


def half_item_score(user_id, item_id, genres):
    del genres
    sign = 1 - 2 * (user_id % 2)  # even users +1, odd users -1
    return tf.cast((item_id // 2) * sign, tf.float32)


def frame(rows):
    return pd.DataFrame({
        USER: np.array([r[0] for r in rows], np.int64),
        ITEM: np.array([r[1] for r in rows], np.int64),
        features.LABEL_KEY: np.full(len(rows), 4.0, np.float32),
        features.GENRES_KEY: np.array([r[2] for r in rows], object)})


@pytest.fixture(scope="module")
def fake_model_dir(tmp_path_factory):
    return save_fake_model(str(tmp_path_factory.mktemp("fake") / "model"),
                           half_item_score)


@pytest.fixture(scope="module")
def scorer(fake_model_dir):
    return ModelScorer(fake_model_dir)


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(frame(TRAIN), frame(EVAL))


@pytest.fixture(scope="module")
def rated():
    return recommend_ranking.rated_pairs([frame(TRAIN), frame(EVAL)])


def column(recommendations, name):
    return recommendations[name].tolist()


# ---------------------------------------------------------------- ranking


def test_even_user_top_k_excludes_seen_and_breaks_ties(scorer, catalog,
                                                       rated):
    # User 2 rated 20 and 4; unseen 1 3 6 7 12 score 0 1 3 3 6.
    top = recommend_ranking.recommend_for_users(scorer, catalog, rated, [2], 3)
    assert column(top, USER) == [2, 2, 2]
    assert column(top, "rank") == [1, 2, 3]
    assert column(top, ITEM) == [12, 6, 7]  # 6 and 7 tie: smaller id first
    assert column(top, "score") == [6.0, 3.0, 3.0]
    assert column(top, "predicted_rating") == [5.0, 3.0, 3.0]  # clipped
    top = recommend_ranking.recommend_for_users(scorer, catalog, rated, [2], 10)
    assert column(top, ITEM) == [12, 6, 7, 3, 1]  # fewer unseen than k
    assert column(top, "predicted_rating")[-1] == 0.5  # score 0, clipped


def test_items_rated_in_eval_are_seen_too(scorer, catalog, rated):
    # User 3 (odd): unseen 3 4 6 7 12 20 score -1 -2 -3 -3 -6 -10; the tie
    # of 6 and 7 sits on the cutoff.
    top = recommend_ranking.recommend_for_users(scorer, catalog, rated, [3], 3)
    assert column(top, ITEM) == [3, 4, 6]
    assert column(top, "score") == [-1.0, -2.0, -3.0]
    assert column(top, "predicted_rating") == [0.5, 0.5, 0.5]


def test_several_users_sorted_unknown_left_out(scorer, catalog, rated):
    top = recommend_ranking.recommend_for_users(scorer, catalog, rated,
                                                [7, 99, 2, 5], 2)
    assert column(top, USER) == [2, 2, 5, 5, 7, 7]
    # 5 rated 20 6 7 3 (unseen 1 4 12, negated); 7 rated 20 7 12.
    assert column(top, ITEM) == [12, 6, 1, 4, 1, 3]


def test_one_user_per_shard_gives_the_same_rows(scorer, catalog, rated):
    # 7 items: 7 pairs per shard is one user per shard.
    shards = list(recommend_ranking.iter_recommendations(
        scorer, catalog, rated, 3, max_pairs_per_shard=7))
    assert [column(s, USER)[0] for s in shards] == [2, 3, 5, 7]
    whole = recommend_ranking.recommend_for_users(scorer, catalog, rated,
                                                  [2, 3, 5, 7], 3)
    pd.testing.assert_frame_equal(pd.concat(shards, ignore_index=True),
                                  whole)


def test_popular_items_by_train_count_then_item_id(catalog):
    popular = recommend_ranking.popular_items(catalog, 5)
    # Train counts: 20 -> 3, 7 -> 2, 4 6 12 -> 1; eval ratings do not count.
    assert column(popular, ITEM) == [20, 7, 4, 6, 12]
    assert column(popular, "train_ratings") == [3, 2, 1, 1, 1]
    assert column(popular, "rank") == [1, 2, 3, 4, 5]


def test_user_table_has_titles_and_genres(scorer, catalog, rated):
    top = recommend_ranking.recommend_for_users(scorer, catalog, rated, [5], 2)
    table = recommend_output.describe_items(
        top.drop(columns=[USER]), catalog, TITLES)
    assert list(table.columns) == ["rank", ITEM, "title", "genres", "score",
                                   "predicted_rating"]
    assert column(table, "title") == ["One", "Four"]
    assert column(table, "genres") == ["Comedy", "Comedy"]
    text = recommend_output.user_table(top, catalog, None).splitlines()
    assert text[0].split() == ["rank", ITEM, "genres", "predicted_rating",
                               "score"]
    assert text[1].split() == ["1", "1", "Comedy", "0.500", "0.000"]


def test_batch_csv_streams_every_user(scorer, catalog, rated, tmp_path):
    path = tmp_path / "all.csv"
    shards = recommend_ranking.iter_recommendations(scorer, catalog, rated, 2,
                                                    max_pairs_per_shard=14)
    assert recommend_output.write_batch_csv(str(path), shards, TITLES, 4) == 8
    lines = path.read_text().splitlines()
    assert lines[0] == "user_id,rank,item_id,score,predicted_rating,title"
    assert lines[1:3] == ["2,1,12,6.000000,5.000000,Twelve",
                          "2,2,6,3.000000,3.000000,Six"]
    written = pd.read_csv(path)
    assert column(written, USER) == [2, 2, 3, 3, 5, 5, 7, 7]
    assert column(written, ITEM) == [12, 6, 3, 4, 1, 4, 1, 3]
    assert not list(tmp_path.glob("*.tmp"))


# ------------------------------------------- ranking through serving_topk

# User 7 also rated 4 in eval; the served model excludes only train movies.
SERVED_EVAL = EVAL + [(7, 4, b"Comedy")]


class _HalfItemExport(tf.Module):
    """The estimator export's raw signature scoring half_item_score."""

    def __init__(self):
        super().__init__()
        self.signatures = {
            "predict": lambda examples: {
                "predictions": tf.zeros([tf.size(examples), 1])},
            "raw:predict": lambda **columns: {
                "predictions": tf.reshape(half_item_score(
                    columns[USER], columns[ITEM], None), [-1, 1])}}


@pytest.fixture(scope="module")
def topk_model_dir(tmp_path_factory):
    """A model with serving_topk whose catalog and train movies are TRAIN's
    (vocabularies in first-seen order, as any order must do)."""
    users = list(dict.fromkeys(user for user, _, _ in TRAIN))
    items = list(dict.fromkeys(item for _, item, _ in TRAIN))
    tables = topk_serving.build_tables(
        history.build_user_history(
            [users.index(user) for user, _, _ in TRAIN],
            [items.index(item) for _, item, _ in TRAIN], len(users) + 1),
        [str(user).encode() for user in users],
        [str(item).encode() for item in items],
        np.zeros((len(items), len(features.GENRES)), np.float32))
    module = model.ServingModule(_HalfItemExport(), topk_tables=tables)
    path = str(tmp_path_factory.mktemp("fake_topk") / "model")
    tf.saved_model.save(module, path, signatures=module.signatures())
    return path


@pytest.fixture(scope="module")
def served_ranker(topk_model_dir):
    ranker = recommend_sources.load_ranker(topk_model_dir)
    assert isinstance(ranker, recommend_ranking.ServedTopK)
    return ranker


@pytest.fixture(scope="module")
def served_data():
    return (build_catalog(frame(TRAIN), frame(SERVED_EVAL)),
            recommend_ranking.rated_pairs([frame(TRAIN), frame(SERVED_EVAL)]))


def test_a_model_without_serving_topk_is_scored_pair_by_pair(fake_model_dir):
    assert isinstance(recommend_sources.load_ranker(fake_model_dir),
                      ModelScorer)


def test_served_lists_drop_movies_rated_in_eval_and_the_padding(
        served_ranker, served_data):
    catalog, rated = served_data
    # Served catalog: TRAIN's movies 4 6 7 12 20. User 2 (train 20 4):
    # 6 7 12 score 3 3 6. User 5 (train 20 6 7; eval 3): 4 12 score -2 -6.
    # User 7 (train 20 7 12, eval 4): the model serves 4 6 (-2 -3), 4 is
    # dropped. User 3 (eval only, rated 1): every movie, 4 6 7 12 20 score
    # -2 -3 -3 -6 -10.
    top = recommend_ranking.recommend_for_users(served_ranker, catalog,
                                                rated, [7, 5, 3, 2, 99], 3)
    assert column(top, USER) == [2, 2, 2, 3, 3, 3, 5, 5, 7]
    assert column(top, ITEM) == [12, 6, 7, 4, 6, 7, 4, 12, 6]
    assert column(top, "rank") == [1, 2, 3, 1, 2, 3, 1, 2, 1]
    assert column(top, "score") == [6, 3, 3, -2, -3, -3, -2, -6, -3]
    assert column(top, "predicted_rating") == [5, 3, 3] + [0.5] * 6


def test_served_lists_ask_for_k_plus_the_rated_movies(served_ranker,
                                                      served_data):
    catalog, rated = served_data
    # k = 1 for user 7: the model's first movie (4) was rated in eval.
    top = recommend_ranking.recommend_for_users(served_ranker, catalog,
                                                rated, [7], 1)
    assert column(top, ITEM) == [6]


def test_served_batches_give_the_same_rows(served_ranker, served_data):
    catalog, rated = served_data
    # 7 catalog movies: 7 pairs a call is one user a call.
    batches = list(recommend_ranking.iter_recommendations(
        served_ranker, catalog, rated, 2, max_pairs_per_shard=7))
    assert [column(b, USER)[0] for b in batches] == [2, 3, 5, 7]
    pd.testing.assert_frame_equal(
        pd.concat(batches, ignore_index=True),
        recommend_ranking.recommend_for_users(served_ranker, catalog, rated,
                                              [2, 3, 5, 7], 2))


def test_served_ranking_equals_scoring_every_pair(tiny_pipeline_run,
                                                  tiny_ratings):
    """On the tiny run (every movie in train), recommend's lists through
    the pushed model's serving_topk are those of the pair path."""
    store = recommend_sources.open_existing_store(
        tiny_pipeline_run.metadata_path)
    data = recommend_sources.load_pipeline_data(store)
    model_dir = recommend_sources.pushed_model_dir(
        store, tiny_pipeline_run.pipeline_name,
        str(tiny_pipeline_run.output_root))
    served = recommend_sources.load_ranker(model_dir)
    assert isinstance(served, recommend_ranking.ServedTopK)
    users = sorted(set(tiny_ratings[USER]))
    pd.testing.assert_frame_equal(
        recommend_ranking.recommend_for_users(served, data.catalog,
                                              data.rated, users, 5),
        recommend_ranking.recommend_for_users(ModelScorer(model_dir),
                                              data.catalog, data.rated,
                                              users, 5))


# ------------------------------------------------------------ arguments


def test_user_ids_repeat_and_comma_lists():
    args = recommend.parse_args(["--user", "3,4", "--user", "9"])
    assert args.user == [3, 4, 9] and args.k == 10


@pytest.mark.parametrize("argv", [["--user", "abc"], ["--user", "1.5"],
                                  ["--all-users"], ["--user", "1", "--k", "0"],
                                  ["--user", "1", "--csv", "x.csv"],
                                  ["--interactive", "--user", "1"]])
def test_bad_arguments_are_argparse_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        recommend.parse_args(argv)
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_items_file_beside_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "syn").mkdir()
    assert recommend_sources.find_items_csv(None, str(tmp_path / "syn")) is None
    (tmp_path / "syn-items.csv").write_text("item_id,title,genres\n")
    assert recommend_sources.find_items_csv(None, str(tmp_path / "syn")) == \
        str(tmp_path / "syn-items.csv")
    with pytest.raises(recommend_sources.RecommendError, match="no items file"):
        recommend_sources.find_items_csv(str(tmp_path / "nope.csv"), None)


def test_store_without_pushed_model_exits_2(tmp_path, capsys):
    path = configs.LocalPaths(str(tmp_path), "empty").metadata_path
    (tmp_path / "metadata" / "empty").mkdir(parents=True)
    metadata_report.open_store(path)  # creates an empty store
    code = recommend.main(["--user", "1", "--output-root", str(tmp_path),
                           "--pipeline-name", "empty"])
    assert code == 2
    err = capsys.readouterr().err
    assert "error: pipeline 'empty' has no pushed model yet" in err
    assert "local_runner.py" in err


# ------------------------------------------------------------------- CLI


def run_cli(cwd, *args):
    return subprocess.run([sys.executable, "-m", "reporting.recommend",
                           *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def tiny_flags(run):
    return ("--output-root", run.output_root, "--pipeline-name",
            run.pipeline_name)


@pytest.fixture(scope="module")
def tiny_ratings(tiny_pipeline_run):
    return pd.read_csv(tiny_pipeline_run.data_dir / "ratings.csv")


@pytest.fixture(scope="module")
def items_csv(tiny_ratings, tmp_path_factory):
    from movielens_data.output import write_items_csv
    from movielens_data.synthetic import synthetic_items
    return write_items_csv(synthetic_items(tiny_ratings),
                           tmp_path_factory.mktemp("items") / "items.csv")


def rated_by(ratings, user):
    return set(ratings.loc[ratings[USER] == user, ITEM].tolist())


def table_rows(section):
    """(rank, item_id, title number, last column) of a printed table."""
    pattern = re.compile(r"^\s*(\d+)\s+(\d+)\s+Synthetic movie (\d+)\s.*?"
                         r"(\S+)\s*$")
    return [tuple(float(g) for g in m.groups()) for m in
            map(pattern.match, section.splitlines()) if m]


def test_cli_known_and_unknown_user(tiny_pipeline_run, tiny_ratings,
                                    items_csv, tmp_path):
    user = int(tiny_ratings[USER].iloc[0])
    result = run_cli(tmp_path, "--user", f"{user},99999", "--k", 5,
                     "--items-csv", items_csv, *tiny_flags(tiny_pipeline_run))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert UNKNOWN_USER_LINE in result.stderr.splitlines()
    known, fallback = result.stdout.split("\n\n")
    assert known.startswith(f"user {user}: top 5 of ")
    rows = table_rows(known)
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert all(r[1] == r[2] for r in rows)  # each title is its item's
    items = {int(r[1]) for r in rows}
    assert len(items) == 5 and not items & rated_by(tiny_ratings, user)
    assert fallback.startswith("user 99999: the 5 movies with the most")
    counts = [r[3] for r in table_rows(fallback)]
    assert len(counts) == 5 and counts == sorted(counts, reverse=True)
    # The served model's standing against popularity, as its
    # TopKEvaluator measured it: a warning exactly when it ranks below.
    from components.topk_evaluator.executor import read_evaluation
    from runtime import metadata_report
    store = metadata_report.open_store(tiny_pipeline_run.metadata_path)
    topk = read_evaluation(metadata_report.served_model(store).topk_uri)
    below = any(topk["model"][m] < topk["popularity"][m]
                for m in ("ndcg@k", "precision@k"))
    assert ("warning: this model ranks below popularity: "
            in result.stderr) == below


def test_popularity_warning_only_for_the_served_model(tiny_pipeline_run,
                                                      tmp_path):
    from components.topk_evaluator.executor import read_evaluation
    from reporting.recommend_sources import popularity_warning
    from runtime import metadata_report
    store = metadata_report.open_store(tiny_pipeline_run.metadata_path)
    served = metadata_report.served_model(store)
    assert popularity_warning(store, str(tmp_path)) is None
    assert popularity_warning(store, served.destination + "/") == (
        metadata_report.below_popularity(read_evaluation(served.topk_uri),
                                         "this model"))


def test_interactive_answers_each_line_warm(tiny_pipeline_run, tiny_ratings,
                                            items_csv, capsys):
    user = int(tiny_ratings[USER].iloc[0])
    args = recommend.parse_args(["--interactive", "--k", "3",
                                 "--items-csv", str(items_csv),
                                 *map(str, tiny_flags(tiny_pipeline_run))])
    lines = io.StringIO(f"{user}\nabc\n\n{user},99999\n")
    assert recommend.run(args, stdin=lines) == 0
    out, err = capsys.readouterr()
    first, second, fallback = out.strip().split("\n\n")
    assert first.startswith(f"user {user}: top 3 of ")
    assert second.startswith(f"user {user}: top 3 of ")
    assert [r[1] for r in table_rows(first)] == [
        r[1] for r in table_rows(second)]
    assert len(table_rows(first)) == 3
    assert fallback.startswith("user 99999: the 3 movies with the most")
    assert "error: user ids must be integers, got 'abc'" in err
    times = re.findall(r"answered in (\d+\.\d+) s", err)
    assert len(times) == 2 and all(float(t) < 5 for t in times)


def test_main_model_dir_override_ranks_exactly(tiny_pipeline_run,
                                               tiny_ratings, fake_model_dir,
                                               capsys):
    # In process (the subprocess tests cover the command line itself).
    user = int(tiny_ratings.loc[tiny_ratings[USER] % 2 == 0, USER].iloc[0])
    unseen = set(tiny_ratings[ITEM]) - rated_by(tiny_ratings, user)
    expected = sorted(unseen, key=lambda item: (-(item // 2), item))[:4]
    assert recommend.main([
        "--user", str(user), "--k", "4", "--model-dir", fake_model_dir,
        *map(str, tiny_flags(tiny_pipeline_run))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(f"model {fake_model_dir}")
    assert "title" not in lines[1]  # the tiny run's data has no items file
    assert [int(line.split()[1]) for line in lines[2:]] == expected


def test_cli_batch_csv(tiny_pipeline_run, tiny_ratings, items_csv, tmp_path):
    path = tmp_path / "all.csv"
    result = run_cli(tmp_path, "--all-users", "--csv", path, "--k", 4,
                     "--items-csv", items_csv, *tiny_flags(tiny_pipeline_run))
    assert result.returncode == 0, result.stderr
    assert f"wrote {4 * tiny_ratings[USER].nunique()} rows" in result.stderr
    written = pd.read_csv(path)
    assert list(written.columns) == ["user_id", "rank", "item_id", "score",
                                     "predicted_rating", "title"]
    assert set(written[USER]) == set(tiny_ratings[USER])
    assert all(ranks == [1, 2, 3, 4]
               for ranks in written.groupby(USER)["rank"].apply(list))
    seen = written.merge(tiny_ratings, on=[USER, ITEM])
    assert seen.empty, seen
    assert (written["title"] == "Synthetic movie "
            + written[ITEM].astype(str)).all()
    assert written["predicted_rating"].between(0.5, 5).all()


def test_cli_wrong_output_root_exits_2(tmp_path):
    result = run_cli(tmp_path, "--user", 1, "--output-root",
                     tmp_path / "nowhere")
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"error: no metadata store at {tmp_path / 'nowhere'}")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "nowhere").exists()  # no empty store created


# ------------------------------------------------- the ranking objective


def test_ranking_model_prints_a_probability(tiny_ranking_run, capsys):
    ratings = pd.read_csv(tiny_ranking_run.data_dir / "ratings.csv")
    user = int(ratings[USER].iloc[0])
    assert recommend.main(["--user", str(user), "--k", "5",
                           *map(str, tiny_flags(tiny_ranking_run))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["rank", ITEM, "genres", "probability",
                                "score"]
    assert "predicted_rating" not in "\n".join(lines)
    rows = [line.split() for line in lines[2:]]
    assert [int(row[0]) for row in rows] == [1, 2, 3, 4, 5]
    assert not {int(row[1]) for row in rows} & rated_by(ratings, user)
    probability = np.array([float(row[-2]) for row in rows])
    score = np.array([float(row[-1]) for row in rows])
    assert ((probability >= 0) & (probability <= 1)).all()
    # Three printed decimals each.
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(-score)),
                               atol=2e-3)
    assert list(score) == sorted(score, reverse=True)


def test_ranking_model_batch_csv_has_a_probability_column(tiny_ranking_run,
                                                          tmp_path):
    path = tmp_path / "all.csv"
    assert recommend.main(["--all-users", "--csv", str(path), "--k", "3",
                           *map(str, tiny_flags(tiny_ranking_run))]) == 0
    assert path.read_text().splitlines()[0] == \
        "user_id,rank,item_id,score,probability"
    written = pd.read_csv(path)
    assert written["probability"].between(0, 1).all()
    np.testing.assert_allclose(written["probability"],
                               1 / (1 + np.exp(-written["score"])),
                               atol=2e-6)


def test_prediction_column_follows_the_objective(scorer, catalog, rated):
    assert recommend_ranking.prediction_key("rating") == "predicted_rating"
    assert recommend_ranking.prediction_key("ranking") == "probability"
    top = recommend_ranking.recommend_for_users(scorer, catalog, rated, [2], 2,
                                                value_key="probability")
    assert list(top.columns) == [USER, "rank", ITEM, "score", "probability"]
    assert recommend_output.user_table(top, catalog, None).splitlines()[0].split() \
        == ["rank", ITEM, "genres", "probability", "score"]
    empty = recommend_ranking.recommend_for_users(scorer, catalog, rated, [99], 2,
                                                  value_key="probability")
    assert list(empty.columns) == recommend_ranking.csv_columns("probability")
