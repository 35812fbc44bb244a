"""NegativeSampler: the per-user sampling functions, the executor end to end
on tiny raw examples, and the component's parameter checks.

Executor data (negatives_per_positive 2); catalog = train items 1..8 (item 9
is only in eval):
  train: u1: 1 2 3 | u2: 2 5 6 | u3: 1 2 3 4 5 6 7 (only 8 left) | u5: 4 8
  eval:  u1: 4 9   | u2: 1     | u3: 8 (nothing left)             | u4: 2 3
  eval: 6 positives, 5 of them with 2 negatives (u3's 8 has none): 16.
"""
import collections
import glob
import hashlib
import logging
import os

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts

from components.negative_sampler import executor, sampling, splits
from components.negative_sampler.component import NegativeSampler
from recommender import catalog as catalog_lib
from recommender import data
from topk_fixtures import make_example, write_examples_artifact
import movielens_features as features

RATIO, SEED = 2, 17
PARAMS = dict(negatives_per_positive=RATIO, seed=SEED)
GENRES = {1: b"Comedy", 2: None, 3: b"Drama|War", 4: b"Action", 5: None,
          6: b"Horror", 7: b"Sci-Fi", 8: b"Romance", 9: b"Western"}
TRAIN_PAIRS = {1: [1, 2, 3], 2: [2, 5, 6], 3: [1, 2, 3, 4, 5, 6, 7],
               5: [4, 8]}
EVAL_PAIRS = {1: [4, 9], 2: [1], 3: [8], 4: [2, 3]}
CATALOG_ITEMS = list(range(1, 9))


def _rows(pairs, first_timestamp):
    rows, timestamp = [], first_timestamp
    for user, items in pairs.items():
        for item in items:
            # Whole and half stars; every timestamp distinct.
            rows.append((user, item, 0.5 + (user + item) % 10 / 2,
                         GENRES[item], timestamp))
            timestamp += 1
    return rows


TRAIN_ROWS = _rows(TRAIN_PAIRS, 1000)
EVAL_ROWS = _rows(EVAL_PAIRS, 5000)
N_EVAL = len(EVAL_ROWS)


# --------------------------------------------------------- plain helpers


def _rating(user, item, timestamp=0, rating=4.0, genres=b""):
    return sampling.Rating(user, item, rating, timestamp, genres)


def _catalog(n_items, first_id=1):
    ids = list(range(first_id, first_id + n_items))
    return catalog_lib.catalog_of_items((i, f"g{i}".encode()) for i in ids)


def _rows_equal(left, right):
    return (left.user_id == right.user_id and all(
        np.array_equal(a, b) for a, b in zip(left[1:], right[1:])))


# ------------------------------------------------------- raw examples


def test_parse_rating_reads_the_raw_columns():
    parsed = sampling.parse_rating(make_example(
        (7, 42, 3.5, b"Drama|War", 123456)).SerializeToString())
    assert parsed == sampling.Rating(7, 42, 3.5, 123456, b"Drama|War")
    # CsvExampleGen writes an empty genres cell as a feature without value.
    no_genre = sampling.parse_rating(make_example(
        (7, 42, 3.5, None, 1)).SerializeToString())
    assert no_genre.genres == b""


def test_parse_rating_names_a_missing_column():
    example = make_example((7, 42, 3.5, None, 1))
    del example.features.feature[features.TIMESTAMP_KEY]
    with pytest.raises(ValueError, match="timestamp"):
        sampling.parse_rating(example.SerializeToString())


def test_build_catalog_one_entry_per_item_in_any_order():
    pairs = [(5, b""), (2, b"Comedy"), (5, b"Horror"), (2, b"Comedy"),
             (9, b"")]
    for ordering in (pairs, pairs[::-1]):
        catalog = catalog_lib.catalog_of_items(ordering)
        assert catalog.item_ids.tolist() == [2, 5, 9]
        assert catalog.item_ids.dtype == np.int64
        # A genre beats no genre, whichever comes first.
        assert catalog.genres.tolist() == [b"Comedy", b"Horror", b""]
    empty = catalog_lib.catalog_of_items([])
    assert empty.item_ids.size == 0 and empty.genres.size == 0


def test_catalog_indices_ignore_unknown_items():
    catalog = catalog_lib.catalog_of_items([(3, b""), (10, b""), (20, b"")])
    assert sampling.catalog_indices(catalog, [20, 3, 99, 3, 0]).tolist() == [
        0, 2]
    assert sampling.catalog_indices(catalog, []).size == 0


# ----------------------------------------------------------- determinism


def _eval_rows(seed, user=7, n_items=500, rated=(1, 2, 3, 10),
               held_out=(4, 20, 30)):
    catalog = _catalog(n_items)
    train = [_rating(user, item, timestamp=item) for item in rated]
    eval_ = [_rating(user, item, timestamp=item) for item in held_out]
    rows, _ = sampling.eval_rows(user, train, eval_, catalog, 4, seed)
    return rows


def test_same_seed_same_arrays():
    assert _rows_equal(_eval_rows(5), _eval_rows(5))
    # Bit for bit, straight from the generator.
    pool = sampling.NegativePool(1000, np.arange(10))
    draws = [pool.sample(sampling.user_rng(5, 7), 64) for _ in range(2)]
    np.testing.assert_array_equal(*draws)


def test_other_seed_or_user_differ():
    pool = sampling.NegativePool(1000, np.arange(10))

    def draw(*seed_args):
        return pool.sample(sampling.user_rng(*seed_args), 64)

    reference = draw(5, 7)
    for other in [(6, 7), (5, 8)]:
        assert not np.array_equal(reference, draw(*other)), other
    assert not np.array_equal(_eval_rows(5).item_ids, _eval_rows(6).item_ids)


def test_generator_keeps_the_eval_splits_former_seed():
    """(seed, user, 0, 1): round 0 and split index 1 seeded the eval split
    when the sampler also wrote train rounds; a seed still draws the same
    eval negatives, so the ranking figures reproduce."""
    for seed, user in [(17, 3), (123, 1 << 40), (0, -5)]:
        np.testing.assert_array_equal(
            sampling.user_rng(seed, user).integers(1 << 62, size=16),
            np.random.default_rng([seed, user % (1 << 64), 0, 1]).integers(
                1 << 62, size=16))


def test_positive_order_does_not_matter():
    catalog = _catalog(50)
    train = [_rating(3, item, timestamp=item) for item in (2, 8, 5)]
    eval_ = [_rating(3, item, timestamp=100 - item) for item in (4, 9, 1)]
    results = [sampling.eval_rows(3, t, e, catalog, 3, 11)[0]
               for t, e in ((train, eval_), (train[::-1], eval_[::-1]))]
    assert _rows_equal(*results)


def test_negative_ids_seed_a_generator():
    # SeedSequence refuses negative integers; ids map into [0, 2**64).
    draws = [sampling.user_rng(1, -5).integers(1 << 30) for _ in range(2)]
    assert draws[0] == draws[1]
    assert draws[0] != sampling.user_rng(1, 5).integers(1 << 30)


# ------------------------------------------------------- sampling rules


def test_eval_counts_layout_and_columns():
    catalog = catalog_lib.catalog_of_items(
        [(i, GENRES[i] or b"") for i in CATALOG_ITEMS])
    positives = [_rating(1, 3, 30, 4.5, b"Drama|War"),
                 _rating(1, 1, 10, 2.0, b"Comedy"),
                 _rating(1, 2, 20, 1.0, b"")]
    rows, _ = sampling.eval_rows(1, [], positives, catalog, RATIO, SEED)
    assert len(rows) == len(positives) * (1 + RATIO)
    assert rows.num_negatives == len(positives) * RATIO
    # Positives in sorted order, each followed by its negatives.
    width = 1 + RATIO
    assert rows.labels.tolist() == [1, 0, 0] * 3
    assert rows.item_ids[::width].tolist() == [1, 2, 3]
    assert rows.ratings[::width].tolist() == [2.0, 1.0, 4.5]
    assert rows.genres[::width].tolist() == [b"Comedy", b"", b"Drama|War"]
    assert rows.timestamps.tolist() == [10] * 3 + [20] * 3 + [30] * 3
    negative = rows.labels == 0
    assert set(rows.item_ids[negative].tolist()).isdisjoint({1, 2, 3})
    assert set(rows.item_ids[negative].tolist()) <= set(CATALOG_ITEMS)
    assert (rows.ratings[negative] == 0.0).all()
    expected_genres = [GENRES[i] or b"" for i in rows.item_ids[negative]]
    assert rows.genres[negative].tolist() == expected_genres
    assert rows.item_ids.dtype == np.int64
    assert rows.ratings.dtype == np.float32


def test_eval_negatives_never_rated_on_a_larger_case():
    catalog = _catalog(300)
    rng = np.random.default_rng(0)
    for user in range(40):
        rated = rng.choice(catalog.item_ids, size=rng.integers(2, 250),
                           replace=False)
        ratings = [_rating(user, int(i), timestamp=n)
                   for n, i in enumerate(rated)]
        held_out = max(1, len(ratings) // 4)
        rows, _ = sampling.eval_rows(user, ratings[held_out:],
                                     ratings[:held_out], catalog, 4, 3)
        negatives = rows.item_ids[rows.labels == 0]
        assert negatives.size == 4 * held_out
        assert not np.isin(negatives, rated).any()
        assert len(rows) == held_out * 5


def test_eval_negatives_exclude_train_and_eval_items():
    catalog = _catalog(12)
    train = [_rating(1, item) for item in (1, 2, 3, 4, 5)]
    eval_ = [_rating(1, item, timestamp=item) for item in (6, 7, 99)]
    rows, _ = sampling.eval_rows(1, train, eval_, catalog, 50, 4)
    assert len(rows) == 3 * 51
    negatives = rows.item_ids[rows.labels == 0]
    assert set(negatives.tolist()) == {8, 9, 10, 11, 12}
    # No eval positives, no eval rows.
    assert sampling.eval_rows(1, train, [], catalog, 2, 4) is None


@pytest.mark.parametrize("n_excluded", [20, 70])  # rejection / allowed list
def test_negatives_cover_the_allowed_items_uniformly(n_excluded):
    n_items, per_item = 100, 1000
    pool = sampling.NegativePool(n_items, np.arange(n_excluded))
    allowed = n_items - n_excluded
    assert pool.size == allowed
    draws = pool.sample(np.random.default_rng(8), allowed * per_item)
    assert draws.size == allowed * per_item
    counts = np.bincount(draws, minlength=n_items)
    assert counts[:n_excluded].sum() == 0
    counts = counts[n_excluded:]
    # Chi-square with allowed - 1 degrees of freedom: mean dof, sd
    # sqrt(2 dof); 6 sd is far beyond chance.
    chi2 = ((counts - per_item) ** 2 / per_item).sum()
    dof = allowed - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), chi2
    # Binomial sd ~ 31: every item within 6 sd.
    assert counts.min() > per_item - 190 and counts.max() < per_item + 190


def test_negatives_of_many_users_cover_the_catalog():
    catalog = _catalog(60)
    counts = collections.Counter()
    for user in range(300):
        positives = [_rating(user, 1 + (user + k) % 60, timestamp=k)
                     for k in range(3)]
        rows, _ = sampling.eval_rows(user, [], positives, catalog, 8, 99)
        counts.update(rows.item_ids[rows.labels == 0].tolist())
    # 300 users x 24 negatives = 7200 over 60 items, each item excluded for
    # 3 of every 60 users: ~120 each.
    values = np.array([counts[i] for i in range(1, 61)])
    assert values.sum() == 7200
    assert values.min() > 70 and values.max() < 170


def test_user_who_rated_everything_gets_positives_only():
    catalog = _catalog(5)
    train = [_rating(2, item, timestamp=item) for item in (1, 2, 3)]
    eval_ = [_rating(2, item, timestamp=item) for item in (5, 4)]
    rows, _ = sampling.eval_rows(2, train, eval_, catalog, 4, 1)
    assert len(rows) == 2 and rows.num_negatives == 0
    assert rows.labels.tolist() == [1] * 2
    assert rows.item_ids.tolist() == [4, 5]


def test_user_who_rated_nearly_everything_repeats_what_remains():
    catalog = _catalog(5)
    train = [_rating(2, item) for item in (1, 2)]
    eval_ = [_rating(2, item) for item in (3, 5)]
    rows, _ = sampling.eval_rows(2, train, eval_, catalog, 8, 1)
    assert rows.num_negatives == 16
    assert set(rows.item_ids[rows.labels == 0].tolist()) == {4}
    pool = sampling.NegativePool.for_user(catalog, [1, 2, 3])
    assert sorted(set(pool.sample(np.random.default_rng(0), 50).tolist())) \
        == [3, 4]


def test_empty_catalog_gives_no_negatives():
    pool = sampling.NegativePool.for_user(catalog_lib.catalog_of_items([]), [1, 2])
    assert pool.size == 0
    assert pool.sample(np.random.default_rng(0), 10).size == 0


# ---------------------------------------------------------------- output


def test_examples_hold_the_raw_columns_and_the_label():
    catalog = catalog_lib.catalog_of_items([(1, b"Comedy"), (2, b""), (3, b"War")])
    rows, _ = sampling.eval_rows(
        9, [], [_rating(9, 1, 77, 3.5, b"Comedy")], catalog, 3, 0)
    examples = list(sampling.to_examples(rows))
    assert len(examples) == 4
    parsed = [_parse(e.SerializeToString()) for e in examples]
    assert parsed[0] == (9, 1, 3.5, 77, (b"Comedy",), 1)
    for user, item, rating, timestamp, genres, label in parsed[1:]:
        assert (user, rating, timestamp, label) == (9, 0.0, 77, 0)
        assert item in (2, 3)
        # No genre: a feature without value.
        assert genres == (() if item == 2 else (b"War",))
    # The fast serializer writes what to_examples builds.
    assert list(sampling.serialize_rows(rows)) == [
        e.SerializeToString(deterministic=True) for e in examples]


def test_label_name_matches_the_trainers():
    # features.py names the sampler's column for the trainer (when it does).
    assert getattr(features, "SAMPLED_LABEL_KEY",
                   sampling.LABEL_FEATURE_KEY) == sampling.LABEL_FEATURE_KEY


def _parse(serialized):
    feature = tf.train.Example.FromString(serialized).features.feature
    assert set(feature) == set(features.CSV_COLUMNS) | {
        sampling.LABEL_FEATURE_KEY}
    return (feature[features.USER_KEY].int64_list.value[0],
            feature[features.ITEM_KEY].int64_list.value[0],
            feature[features.LABEL_KEY].float_list.value[0],
            feature[features.TIMESTAMP_KEY].int64_list.value[0],
            tuple(feature[features.GENRES_KEY].bytes_list.value),
            feature[sampling.LABEL_FEATURE_KEY].int64_list.value[0])


# -------------------------------------------------------------- executor


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("negative_sampler")


@pytest.fixture(scope="module")
def examples(root):
    return write_examples_artifact(root / "examples",
                                   {"train": TRAIN_ROWS, "eval": EVAL_ROWS})


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


class Run:
    """One Executor.Do and the examples it wrote, per split."""

    def __init__(self, root, name, examples, beam_args=None, **params):
        self.output = standard_artifacts.Examples()
        self.output.uri = str(root / name / "sampled_examples")
        context = None
        if beam_args is not None:
            # A plain DirectRunner: beam_pipeline_args would make TFX build
            # an sdist of itself for the workers.
            context = base_beam_executor.BaseBeamExecutor.Context(
                tmp_dir=str(root / name / "tmp"), unique_id=name,
                make_beam_pipeline_fn=lambda: beam.Pipeline(
                    options=PipelineOptions(beam_args)))
        handler, logger = _Capture(), logging.getLogger("absl")
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            executor.Executor(context=context).Do(
                {"examples": [examples]}, {"sampled_examples": [self.output]},
                dict(PARAMS, **params))
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        # What the executor and its DoFns logged.
        self.log = [m for m in handler.messages if "NegativeSampler" in m]
        # Per output split (the eval split alone).
        self.files = {split: sorted(glob.glob(os.path.join(
            artifact_utils.get_split_uri([self.output], split), "*")))
            for split in artifact_utils.decode_split_names(
                self.output.split_names)}
        self.serialized = {split: [
            record.numpy() for record in tf.data.TFRecordDataset(
                files, compression_type="GZIP")]
            for split, files in self.files.items()}
        self.rows = {split: [_parse(s) for s in records]
                     for split, records in self.serialized.items()}

    def sorted_records(self, split):
        return sorted(self.serialized[split])


@pytest.fixture(scope="module")
def default_run(root, examples):
    # No context: the executor's own default Beam pipeline.
    return Run(root, "default", examples)


@pytest.fixture(scope="module")
def second_run(root, examples):
    return Run(root, "second", examples, beam_args=[])


@pytest.fixture(scope="module")
def threaded_run(root, examples):
    return Run(root, "threads", examples, beam_args=[
        "--direct_num_workers=2", "--direct_running_mode=multi_threading"])


@pytest.fixture(scope="module")
def other_seed_run(root, examples):
    return Run(root, "seed", examples, beam_args=[], seed=SEED + 1)


def test_output_artifact_looks_like_example_gen(default_run):
    output = default_run.output
    assert artifact_utils.decode_split_names(output.split_names) == [
        splits.EVAL]
    assert examples_utils.get_payload_format(output) == \
        example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE
    assert output.get_string_custom_property("payload_format") == \
        "FORMAT_TF_EXAMPLE"
    assert examples_utils.get_file_format(output) == "tfrecords_gzip"
    for split, files in default_run.files.items():
        assert files, split
        for path in files:
            assert os.path.basename(path).startswith("data_tfrecord-")
            assert path.endswith(".gz")
    # The project's own reader of raw examples reads them.
    frame = data.read_split(output, "eval")
    assert len(frame) == N_EVAL + (N_EVAL - 1) * RATIO


def test_counts_per_label(default_run):
    eval_labels = collections.Counter(r[-1] for r in default_run.rows["eval"])
    # u3's eval item 8 was the last one left: no negatives for it.
    assert eval_labels == {1: N_EVAL, 0: (N_EVAL - 1) * RATIO}
    # Positives: every raw eval row, unchanged, once.
    eval_positives = collections.Counter(
        r for r in default_run.rows["eval"] if r[-1] == 1)
    assert eval_positives == collections.Counter(
        (u, i, r, t, () if g is None else (g,), 1)
        for u, i, r, g, t in EVAL_ROWS)


def test_each_positive_has_its_negatives(default_run):
    # Timestamps are distinct per raw row and negatives copy their
    # positive's: group by (user, timestamp).
    groups = collections.defaultdict(collections.Counter)
    for user, _, _, timestamp, _, label in default_run.rows["eval"]:
        groups[user, timestamp][label] += 1
    for (user, _), labels in groups.items():
        assert labels[1] == 1
        assert labels[0] == (0 if user == 3 else RATIO)


def test_negatives_avoid_rated_items(default_run):
    eval_negatives = collections.defaultdict(set)
    for user, item, rating, _, genres, label in default_run.rows["eval"]:
        if label == 0:
            assert item in CATALOG_ITEMS
            assert item not in TRAIN_PAIRS.get(user, []) + EVAL_PAIRS[user]
            assert rating == 0.0
            assert genres == (() if GENRES[item] is None else (GENRES[item],))
            eval_negatives[user].add(item)
    # u3 rated every item but 8 in train, then 8 in eval.
    assert 3 not in eval_negatives
    # u4 has no train rows: only its eval items are excluded.
    assert eval_negatives[4] <= {1, 4, 5, 6, 7, 8}


def test_the_eval_examples_are_those_of_before_issue_27(default_run):
    """The fixture's eval examples (as a sorted multiset), exactly as the
    sampler wrote them when it also wrote train rounds: the pipeline's
    ranking figures reproduce for the same seed."""
    digest = hashlib.sha256(b"".join(
        len(record).to_bytes(4, "little") + record
        for record in default_run.sorted_records("eval"))).hexdigest()
    assert digest == ("dddd4074b93c0a419ad2fddf558411942ec51be1a3a850c5c28ba0"
                      "cb4d81cafe")


def test_two_runs_write_the_same_examples(default_run, second_run):
    assert default_run.sorted_records("eval") == \
        second_run.sorted_records("eval")


def test_parallel_run_writes_the_same_examples(default_run, threaded_run):
    assert default_run.sorted_records("eval") == \
        threaded_run.sorted_records("eval")


def test_other_seed_other_negatives(default_run, other_seed_run):
    assert default_run.sorted_records("eval") != \
        other_seed_run.sorted_records("eval")
    assert len(other_seed_run.serialized["eval"]) == len(
        default_run.serialized["eval"])


def test_eval_is_not_grouped_by_user(root):
    # 40 users x 10 eval positives x (1 + RATIO) rows: written in user
    # order, the first 200 records would be 7 users'. User 99 rates the
    # whole catalog (items 1..60) in train and has no eval rows.
    train = [(user, item, 4.0, None, user * 100 + item)
             for user in range(1, 41) for item in range(1, 6)]
    train += [(99, item, 4.0, None, item) for item in range(1, 61)]
    eval_ = [(user, item, 4.0, None, 10_000 + user * 100 + item)
             for user in range(1, 41) for item in range(11, 21)]
    wide = write_examples_artifact(root / "wide",
                                   {"train": train, "eval": eval_})
    run = Run(root, "wide", wide, beam_args=[])
    assert len(run.rows["eval"]) == 40 * 10 * (1 + RATIO)
    assert len({r[0] for r in run.rows["eval"][:200]}) > 20


def test_user_fraction_keeps_the_sampled_users_examples_unchanged(
        root, examples, second_run):
    """A fraction of the users: exactly the eval examples of the users
    keeps_user picks, as with every user (their negatives unchanged)."""
    fraction = 0.5
    run = Run(root, "half", examples, beam_args=[], user_fraction=fraction)
    kept = {user for user, *_ in second_run.rows["eval"]
            if sampling.keeps_user(SEED, user, fraction)}
    assert 0 < len(kept) < len({r[0] for r in second_run.rows["eval"]})
    assert sorted(run.rows["eval"]) == sorted(
        row for row in second_run.rows["eval"] if row[0] in kept)


def test_keeps_user_samples_about_the_fraction_per_seed():
    users = range(20_000)
    for fraction in (0.05, 0.5):
        kept = [u for u in users if sampling.keeps_user(7, u, fraction)]
        assert abs(len(kept) / len(users) - fraction) < 0.01
        # Reproducible, and another seed picks other users.
        assert kept == [u for u in users
                        if sampling.keeps_user(7, u, fraction)]
        assert kept != [u for u in users
                        if sampling.keeps_user(8, u, fraction)]
    assert all(sampling.keeps_user(7, u, 1.0) for u in users)


def test_executor_rejects_before_work(root, examples):
    output = standard_artifacts.Examples()
    output.uri = str(root / "rejected" / "out")
    for override, name in [({"negatives_per_positive": -1},
                            "negatives_per_positive"),
                           ({"seed": -3}, "seed")]:
        with pytest.raises(ValueError, match=name):
            executor.Executor().Do({"examples": [examples]},
                                   {"sampled_examples": [output]},
                                   dict(PARAMS, **override))
    only_train = standard_artifacts.Examples()
    only_train.uri = examples.uri
    only_train.split_names = artifact_utils.encode_split_names(["train"])
    with pytest.raises(ValueError, match="'eval'"):
        executor.Executor().Do({"examples": [only_train]},
                               {"sampled_examples": [output]}, PARAMS)
    parquet = standard_artifacts.Examples()
    parquet.uri, parquet.split_names = examples.uri, examples.split_names
    examples_utils.set_payload_format(
        parquet, example_gen_pb2.PayloadFormat.FORMAT_PARQUET)
    with pytest.raises(ValueError, match="FORMAT_PARQUET"):
        executor.Executor().Do({"examples": [parquet]},
                               {"sampled_examples": [output]}, PARAMS)
    assert not os.path.exists(str(root / "rejected"))


def test_counters_are_logged(default_run):
    [summary] = [m for m in default_run.log if "positives" in m]
    assert summary == (
        f"NegativeSampler: eval: {N_EVAL} positives, "
        f"{(N_EVAL - 1) * RATIO} negatives, 1 users without negatives")
    assert any("no item left to sample for user 3 in the eval split" in m
               for m in default_run.log)


# ------------------------------------------------------------- component


def _examples_channel():
    return types.Channel(type=standard_artifacts.Examples)


@pytest.mark.parametrize("override, name", [
    ({"negatives_per_positive": 0}, "negatives_per_positive"),
    ({"negatives_per_positive": -2}, "negatives_per_positive"),
    ({"negatives_per_positive": 2.0}, "negatives_per_positive"),
    ({"negatives_per_positive": True}, "negatives_per_positive"),
    ({"seed": -1}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"seed": None}, "seed"),
    ({"user_fraction": 0}, "user_fraction"),
    ({"user_fraction": 1.5}, "user_fraction"),
    ({"user_fraction": "0.5"}, "user_fraction"),
])
def test_component_rejects_bad_parameters(override, name):
    with pytest.raises(ValueError) as error:
        NegativeSampler(examples=_examples_channel(),
                        **{"negatives_per_positive": 4, "seed": 0, **override})
    assert name in str(error.value)
    assert repr(override[name]) in str(error.value)


def test_component_requires_the_ratio_and_the_seed():
    """The pipeline owns both numbers: no defaults here (nor train rounds
    any more)."""
    for given in ({"seed": 0}, {"negatives_per_positive": 4},
                  {"negatives_per_positive": 4, "seed": 0, "rounds": 0}):
        with pytest.raises(TypeError):
            NegativeSampler(examples=_examples_channel(), **given)


def test_component_builds():
    component = NegativeSampler(examples=_examples_channel(),
                                negatives_per_positive=4, seed=0,
                                code_fingerprint="abc")
    assert component.exec_properties == {
        "negatives_per_positive": 4, "seed": 0,
        "user_fraction": 1.0, "code_fingerprint": "abc"}
    assert set(component.outputs) == {"sampled_examples"}
    assert component.outputs["sampled_examples"].type is \
        standard_artifacts.Examples
    assert set(component.inputs) == {"examples"}


def test_auc_user_fraction_flag_reaches_the_sampler():
    """--auc-user-fraction: checked when parsed, then the NegativeSampler's
    user_fraction in the ranking pipeline."""
    import argparse
    from pipeline import configs, options
    from pipeline.pipeline import create_pipeline
    from pipeline.settings import PipelinePaths
    parser = argparse.ArgumentParser()
    options.add_pipeline_flags(parser)
    for bad in ("0", "1.5", "nan", "half"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--auc-user-fraction", bad])
    settings = options.pipeline_settings(parser.parse_args(
        ["--objective", "ranking", "--auc-user-fraction", "0.1"]))
    pipeline = create_pipeline(
        pipeline_name="p",
        paths=PipelinePaths("/tmp/root", "/tmp/data", "/tmp/serving"),
        **settings)
    [sampler] = [node for node in pipeline.components
                 if node.id == configs.NEGATIVE_SAMPLER_ID]
    assert sampler.exec_properties["user_fraction"] == 0.1
    assert options.pipeline_settings(parser.parse_args(
        ["--objective", "ranking"]))["gates"].tfma.auc_user_fraction == 1.0
