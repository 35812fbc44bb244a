"""pipeline/schema/schema.pbtxt agrees with movielens_features and TFDV."""
import os

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from bad_data import BAD_DATA, write_bad_data
from components.anomalies_gate import gate
from conftest import write_synthetic_data
from movielens_data.validate import MIN_ID
import movielens_features as features

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), os.pardir, "pipeline",
                           "schema", "schema.pbtxt")


@pytest.fixture(scope="module")
def schema():
    with open(SCHEMA_PATH) as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def _feature(schema, name):
    return next(f for f in schema.feature if f.name == name)


def test_feature_names_equal_csv_columns(schema):
    names = [f.name for f in schema.feature]
    assert len(names) == len(set(names))
    assert set(names) == set(features.CSV_COLUMNS)


def test_rating_domain_matches_features(schema):
    rating = _feature(schema, features.LABEL_KEY)
    assert rating.type == schema_pb2.FLOAT
    assert rating.HasField("float_domain")
    assert (rating.float_domain.min, rating.float_domain.max) == (
        features.RATING_MIN, features.RATING_MAX)


def test_rating_domain_refuses_nan_and_inf(schema):
    # TFDV compares a NaN with no bound: only disallow_nan reports it.
    domain = _feature(schema, features.LABEL_KEY).float_domain
    assert (domain.disallow_nan, domain.disallow_inf) == (True, True)


def test_id_minimum_is_the_data_checks(schema):
    # python -m movielens_data validate refuses what the schema refuses.
    for key in (features.USER_KEY, features.ITEM_KEY):
        domain = _feature(schema, key).int_domain
        assert (domain.HasField("min"), domain.min) == (True, MIN_ID)


def test_feature_types(schema):
    for key in (features.USER_KEY, features.ITEM_KEY, features.TIMESTAMP_KEY):
        assert _feature(schema, key).type == schema_pb2.INT
    assert _feature(schema, features.GENRES_KEY).type == schema_pb2.BYTES


def test_tensor_representation_group_covers_every_feature(schema):
    group = schema.tensor_representation_group[""].tensor_representation
    assert set(group) == set(features.CSV_COLUMNS)
    assert group[features.GENRES_KEY].WhichOneof("kind") == \
        "varlen_sparse_tensor"
    for key in (features.USER_KEY, features.ITEM_KEY, features.LABEL_KEY,
                features.TIMESTAMP_KEY):
        dense = group[key].dense_tensor
        assert dense.column_name == key
        assert [d.size for d in dense.shape.dim] == [1]


def test_raw_feature_spec_is_the_schemas(schema):
    """Every reader's spec (trainer_module/raw_examples.py) is TFT's spec of
    the schema, with the one-value columns as scalars."""
    import tensorflow as tf
    from tensorflow_transform.tf_metadata import schema_utils
    from trainer_module import raw_examples
    from_schema = schema_utils.schema_as_feature_spec(schema).feature_spec
    scalars = {key: (tf.io.FixedLenFeature([], spec.dtype)
                     if isinstance(spec, tf.io.FixedLenFeature)
                     and list(spec.shape) == [1] else spec)
               for key, spec in from_schema.items()}
    assert raw_examples.feature_spec() == scalars


def _frame(ratings):
    n = len(ratings)
    return pd.DataFrame({
        features.USER_KEY: list(range(1, n + 1)),
        features.ITEM_KEY: [10 + i for i in range(n)],
        features.LABEL_KEY: [float(r) for r in ratings],
        features.TIMESTAMP_KEY: [874965758 + i for i in range(n)],
        features.GENRES_KEY: ["Action|Comedy", "Drama", "Film-Noir",
                              "Sci-Fi"][:n],
    })[list(features.CSV_COLUMNS)]


def test_tfdv_flags_out_of_range_rating(schema):
    stats = tfdv.generate_statistics_from_dataframe(_frame([4.0, 0.5, 7.0]))
    anomalies = tfdv.validate_statistics(stats, schema)
    assert set(anomalies.anomaly_info) == {features.LABEL_KEY}
    info = anomalies.anomaly_info[features.LABEL_KEY]
    assert "7" in info.description or any(
        "7" in r.description for r in info.reason)


def test_tfdv_accepts_clean_data(schema):
    stats = tfdv.generate_statistics_from_dataframe(
        _frame([0.5, 3.0, 5.0, 4.5]))
    anomalies = tfdv.validate_statistics(stats, schema)
    assert dict(anomalies.anomaly_info) == {}
    assert not anomalies.HasField("dataset_anomaly_info")


# --- the bad-data cases the schema catches (docs/reliability.md) -----------

SCHEMA_CASES = sorted(case for case, bad in BAD_DATA.items()
                      if bad.schema_says)


@pytest.fixture(scope="module")
def good_data(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("good")
    write_synthetic_data(data_dir)
    return data_dir


@pytest.mark.parametrize("case", SCHEMA_CASES)
def test_schema_anomaly_as_the_gate_reports_it(schema, good_data, case,
                                               tmp_path):
    # What ExampleValidator computes from StatisticsGen's output, read by
    # the AnomaliesGate; TFDV's CSV reader decodes as CsvExampleGen does.
    path = write_bad_data(good_data, tmp_path, case) / "ratings.csv"
    if path.stat().st_size:
        stats = tfdv.generate_statistics_from_csv(str(path))
    else:
        # TFDV's reader refuses a file without a header; CsvExampleGen
        # reads it as zero examples, and StatisticsGen says so.
        stats = statistics_pb2.DatasetFeatureStatisticsList(datasets=[
            statistics_pb2.DatasetFeatureStatistics(num_examples=0)])
    lines = gate.describe_anomalies(
        tfdv.validate_statistics(stats, schema), "train")
    assert any(BAD_DATA[case].schema_says in line for line in lines), lines
