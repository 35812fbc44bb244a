"""components.anomalies_gate.gate: ExampleValidator output -> error."""
import os

import pandas as pd
import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.anomalies_gate import gate

DESCRIPTION = "Unexpectedly high value: 7 > 5.0 in rating."


def _write(uri, split, anomalies):
    directory = os.path.join(uri, f"Split-{split}")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, gate.ANOMALIES_FILE), "wb") as f:
        f.write(anomalies.SerializeToString())


def _rating_anomaly():
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["rating"]
    info.severity = anomalies_pb2.AnomalyInfo.ERROR
    info.short_description = "Out-of-range values"
    reason = info.reason.add()
    reason.type = anomalies_pb2.AnomalyInfo.FLOAT_TYPE_BIG_FLOAT
    reason.short_description = "Out-of-range values"
    reason.description = DESCRIPTION
    return anomalies


def test_file_layout_name():
    assert gate.ANOMALIES_FILE == "SchemaDiff.pb"


def test_anomaly_in_train_raises_naming_split_feature_and_description(tmp_path):
    uri = str(tmp_path)
    _write(uri, "train", _rating_anomaly())
    _write(uri, "eval", anomalies_pb2.Anomalies())

    with pytest.raises(gate.DataAnomaliesError) as error:
        gate.check_no_anomalies(uri, ["train", "eval"])

    message = str(error.value)
    assert f"split 'train', feature 'rating': {DESCRIPTION}" in message
    assert "'eval'" not in message
    assert isinstance(error.value, RuntimeError)


def test_no_anomalies_returns_none(tmp_path):
    uri = str(tmp_path)
    _write(uri, "train", anomalies_pb2.Anomalies())
    _write(uri, "eval", anomalies_pb2.Anomalies())
    assert gate.check_no_anomalies(uri, ["train", "eval"]) is None


def test_every_split_and_dataset_anomaly_is_listed(tmp_path):
    uri = str(tmp_path)
    _write(uri, "train", _rating_anomaly())
    eval_anomalies = anomalies_pb2.Anomalies()
    eval_anomalies.dataset_anomaly_info.reason.add(
        short_description="Low count")
    _write(uri, "eval", eval_anomalies)

    with pytest.raises(gate.DataAnomaliesError) as error:
        gate.check_no_anomalies(uri, ["train", "eval"])
    message = str(error.value)
    assert "split 'train', feature 'rating'" in message
    # Falls back to the short description when description is empty.
    assert "split 'eval', whole dataset: Low count" in message


def test_only_requested_splits_are_read(tmp_path):
    uri = str(tmp_path)
    _write(uri, "train", anomalies_pb2.Anomalies())
    _write(uri, "eval", _rating_anomaly())
    assert gate.check_no_anomalies(uri, ["train"]) is None


def test_empty_split_is_reported(tmp_path):
    uri = str(tmp_path)
    _write(uri, "train", anomalies_pb2.Anomalies(data_missing=True))
    _write(uri, "eval", anomalies_pb2.Anomalies())
    with pytest.raises(gate.DataAnomaliesError) as error:
        gate.check_no_anomalies(uri, ["train", "eval"])
    assert ("split 'train': no examples (is the input data empty?)"
            in str(error.value))


# --- checks on the examples themselves --------------------------------------

def _ratings(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating",
                                       "genres"])


def test_clean_examples_pass():
    splits = {"train": _ratings([(1, 10, 4.0, "Comedy|Drama"),
                                 (2, 10, 3.0, "")]),
              "eval": _ratings([(1, 11, 5.0, "Sci-Fi")])}
    assert gate.describe_bad_examples(splits) == []
    gate.check_examples(splits)


def test_unknown_genre_is_named_with_its_split_and_count():
    # Genres as parsed examples hold them: bytes.
    splits = {"train": _ratings([(1, 10, 4.0, b"Comedy|Cyberpunk"),
                                 (2, 12, 3.0, b"Cyberpunk")]),
              "eval": _ratings([(1, 11, 5.0, "Drama")])}
    lines = gate.describe_bad_examples(splits)
    assert len(lines) == 1
    assert lines[0].startswith(
        "split 'train', feature 'genres': 2 value(s) outside the known "
        "genres, such as 'Cyberpunk'")


def test_pair_repeated_across_splits_is_named():
    splits = {"train": _ratings([(1, 10, 4.0, "Drama"), (2, 10, 3.0, "")]),
              "eval": _ratings([(1, 10, 5.0, "Drama"), (3, 4, 1.0, "")])}
    with pytest.raises(gate.DataAnomaliesError) as error:
        gate.check_examples(splits)
    assert ("features 'user_id', 'item_id': 1 (user, item) pair(s) rated "
            "more than once, such as user 1 item 10") in str(error.value)
    assert "nothing was trained or pushed" in str(error.value)


def test_byte_order_mark_in_a_feature_name_is_shown_and_explained():
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["\ufeffuser_id"]
    info.reason.add(description="New column (column in data but not in "
                                "schema)")
    assert gate.describe_anomalies(anomalies, "train") == [
        "split 'train', feature '\\ufeffuser_id': New column (column in "
        "data but not in schema) (the CSV starts with a UTF-8 byte order "
        "mark, read as part of the first column's name: save it as UTF-8 "
        "without BOM)"]
