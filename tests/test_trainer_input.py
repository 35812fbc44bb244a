"""train_input.train_dataset: how the Trainer reads its one train split (in
memory or streamed, shuffled), through TFX's own tf.data factory on tiny
gzipped TFRecord files."""
import os
import types

import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.trainer.fn_args_utils import DataAccessor
from tfx.components.util import tfxio_utils
from tfx.types import artifact_utils, standard_artifacts

import movielens_features as features

from trainer_module import train_input
from trainer_module.hparams import HParams

LABEL = features.transformed_name(features.LABEL_KEY)
ROW = "row"
# Two files of 10 rows, 0..9 and 100..109, read as one split through one
# pattern (Split-*/*).
PARTS = {"part_1": range(10), "part_2": range(100, 110)}
BATCH = 5


def _schema() -> schema_pb2.Schema:
    return text_format.Parse(f"""
        feature {{ name: "{ROW}" type: INT presence {{ min_fraction: 1 }}
                   shape {{ dim {{ size: 1 }} }} }}
        feature {{ name: "{LABEL}" type: FLOAT presence {{ min_fraction: 1 }}
                   shape {{ dim {{ size: 1 }} }} }}
        """, schema_pb2.Schema())


def _write_split(uri: str, split: str, rows) -> str:
    directory = os.path.join(uri, f"Split-{split}")
    os.makedirs(directory)
    path = os.path.join(directory, "data.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for row in rows:
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                ROW: tf.train.Feature(int64_list=tf.train.Int64List(
                    value=[row])),
                LABEL: tf.train.Feature(float_list=tf.train.FloatList(
                    value=[1.0])),
            })).SerializeToString())
    return os.path.join(directory, "*")


@pytest.fixture(scope="module")
def split_files(tmp_path_factory):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path_factory.mktemp("transformed"))
    examples.split_names = artifact_utils.encode_split_names(list(PARTS))
    patterns = [_write_split(examples.uri, split, rows)
                for split, rows in PARTS.items()]
    accessor = DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact(
            [examples], []),
        record_batch_factory=None, data_view_decode_fn=None)
    transform_output = types.SimpleNamespace(
        transformed_metadata=types.SimpleNamespace(schema=_schema()))
    return patterns, accessor, transform_output


def _batches(dataset, count):
    return [sorted(features[ROW].numpy().ravel().tolist())
            for features, _ in dataset.take(count)]


def _rows(batches):
    return sorted(row for batch in batches for row in batch)


def _one_split(patterns):
    return [os.path.join(os.path.dirname(os.path.dirname(patterns[0])),
                         "Split-*", "*")]


def test_several_train_splits_are_refused_by_name(split_files):
    patterns, accessor, transform_output = split_files
    with pytest.raises(ValueError, match="one train split") as error:
        train_input.train_dataset(patterns, accessor, transform_output,
                                  HParams(batch_size=BATCH, random_seed=3))
    for pattern in patterns:
        assert pattern in str(error.value)


def test_a_streamed_split_is_shuffled_across_the_whole_pass(split_files):
    patterns, accessor, transform_output = split_files
    dataset = train_input.train_dataset(
        _one_split(patterns), accessor, transform_output,
        HParams(batch_size=BATCH, random_seed=3))
    # No file order: the first half of a pass mixes both files.
    first_half = _rows(_batches(dataset, 2))
    assert any(row < 100 for row in first_half)
    assert any(row >= 100 for row in first_half)
    # Every row once a pass, then again.
    everything = sorted([*PARTS["part_1"], *PARTS["part_2"]])
    assert _rows(_batches(dataset, 4)) == everything
    assert _rows(_batches(dataset, 8)) == sorted(everything * 2)


def test_in_memory_split_yields_every_row_once_per_epoch(split_files):
    patterns, accessor, transform_output = split_files
    dataset = train_input.train_dataset(
        _one_split(patterns), accessor, transform_output,
        HParams(batch_size=BATCH, random_seed=3), num_rows=20)
    epochs = [[row for batch in (_batches(dataset, 12))[start:start + 4]
               for row in batch] for start in (0, 4, 8)]
    everything = sorted([*PARTS["part_1"], *PARTS["part_2"]])
    for epoch in epochs:
        # Exactly the transformed rows, each once, in batches of BATCH.
        assert sorted(epoch) == everything
    # Reshuffled every epoch, across both files.
    orders = [[features[ROW].numpy().ravel().tolist()
               for features, _ in dataset.take(12)]]
    flat = [row for batch in orders[0] for row in batch]
    assert flat[0:20] != flat[20:40] != flat[40:60]
    assert flat[0:20] != sorted(flat[0:20])
    # Labels travel with their rows.
    assert all(label.numpy().ravel().tolist() == [1.0] * BATCH
               for _, label in dataset.take(4))


def test_split_too_big_for_memory_streams_from_its_files(split_files,
                                                         monkeypatch):
    patterns, accessor, transform_output = split_files
    calls = []
    monkeypatch.setattr(train_input, "in_memory_dataset",
                        lambda *args: calls.append(args))
    monkeypatch.setattr(train_input, "IN_MEMORY_MAX_BYTES", 20 * 16 - 1)
    dataset = train_input.train_dataset(
        _one_split(patterns), accessor, transform_output,
        HParams(batch_size=BATCH, random_seed=3), num_rows=20)
    assert calls == [] and len(_rows(_batches(dataset, 4))) == 20
    monkeypatch.setattr(train_input, "IN_MEMORY_MAX_BYTES", 20 * 16)
    train_input.train_dataset(_one_split(patterns), accessor, transform_output,
                          HParams(batch_size=BATCH, random_seed=3),
                          num_rows=20)
    assert len(calls) == 1
