"""CsvExampleGen's executor with a per-user stratified train/eval split.

Thin: reads the CSV exactly as CsvExampleGen does, validates the split
configuration, and splits each user's examples with splitting.py. Every other
step (writing the splits, the artifact's properties) is ExampleGen's own.
"""
from typing import Any, Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from google.protobuf import struct_pb2
from tfx.components.example_gen import utils
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.stratified_example_gen import splitting

# Keys of the component's custom_config (a Struct packed in CustomConfig).
SEED_KEY = "seed"
USER_KEY_KEY = "user_key"
# Not read by the executor: the hash of its code, so that changed code
# changes the cache key (pipeline/fingerprint.py).
CODE_FINGERPRINT_KEY = "code_fingerprint"

# A row's values in a canonical, comparable form: ((feature, values), ...).
RowKey = Tuple[Tuple[str, Tuple[Any, ...]], ...]


class Executor(csv_executor.Executor):
    """CSV in, train/eval out, each user's ratings split train_fraction /
    the rest, where train_fraction comes from the output config's two
    splits' hash_buckets (3 and 1: 75 %)."""

    def GenerateExamplesByBeam(
            self, pipeline: beam.Pipeline, exec_properties: Dict[str, Any]
    ) -> Dict[str, beam.pvalue.PCollection]:
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
            input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
            output_config)
        train_name, eval_name, train_fraction = split_plan(
            input_config, output_config)
        seed, user_key = read_custom_config(
            exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY))
        exec_properties["_beam_pipeline_args"] = self._beam_pipeline_args or []
        examples = (
            pipeline
            | "InputToRecord" >> self.GetInputSourceToExamplePTransform()(
                exec_properties, input_config.splits[0].pattern))
        train, evaluation = examples | "StratifiedSplit" >> StratifiedSplit(
            user_key, seed, train_fraction)
        return {train_name: train, eval_name: evaluation}


def split_plan(input_config: example_gen_pb2.Input,
               output_config: example_gen_pb2.Output
               ) -> Tuple[str, str, float]:
    """(train split name, eval split name, train fraction) of the configs;
    anything a per-user split cannot honour is refused by name."""
    if len(input_config.splits) != 1:
        raise ValueError(
            f"the user-stratified split reads one input split, got "
            f"{[split.name for split in input_config.splits]}")
    splits = output_config.split_config.splits
    if len(splits) != 2 or output_config.split_config.partition_feature_name:
        raise ValueError(
            "the user-stratified split needs exactly two output splits "
            "(train, eval) with hash_buckets and no partition_feature_name, "
            f"got {output_config}")
    if min(split.hash_buckets for split in splits) <= 0:
        raise ValueError("the user-stratified split's hash_buckets must be "
                         f"positive, got {output_config}")
    names = utils.generate_output_split_names(input_config, output_config)
    total = splits[0].hash_buckets + splits[1].hash_buckets
    return names[0], names[1], splits[0].hash_buckets / total


def custom_config(seed: int, user_key: str, code_fingerprint: str = ""
                  ) -> example_gen_pb2.CustomConfig:
    """The component's custom_config: the seed, the user column and the
    code's fingerprint."""
    values = struct_pb2.Struct()
    values.update({SEED_KEY: seed, USER_KEY_KEY: user_key,
                   CODE_FINGERPRINT_KEY: code_fingerprint})
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(values)
    return config


def read_custom_config(serialized: Optional[str]) -> Tuple[int, str]:
    """(seed, user column) from the exec property (JSON of CustomConfig)."""
    if not serialized:
        raise ValueError("the user-stratified split needs a custom_config "
                         "with its seed and user column")
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(serialized, config)
    values = struct_pb2.Struct()
    if not config.custom_config.Unpack(values):
        raise ValueError(f"custom_config is not a Struct: {config}")
    # Struct numbers are doubles.
    return int(values[SEED_KEY]), values[USER_KEY_KEY]


class StratifiedSplit(beam.PTransform):
    """tf.Examples -> (train, eval): each user's examples split by
    splitting.split_user_rows."""

    def __init__(self, user_key: str, seed: int, train_fraction: float):
        super().__init__()
        self._user_key = user_key
        self._seed = seed
        self._train_fraction = train_fraction

    def expand(self, examples: beam.pvalue.PCollection):
        outputs = (
            examples
            | "KeyByUser" >> beam.Map(lambda example: (
                user_of(example, self._user_key), example))
            | "GroupByUser" >> beam.GroupByKey()
            | "SplitEachUser" >> beam.FlatMap(
                split_user_examples, self._seed,
                self._train_fraction).with_outputs(_TRAIN, _EVAL))
        return outputs[_TRAIN], outputs[_EVAL]


_TRAIN, _EVAL = "train", "eval"


def user_of(example: tf.train.Example, user_key: str) -> Optional[int]:
    """The example's user id, or None when it has no single integer id.

    Such rows are not dropped: they all go to train, where the
    ExampleValidator and the AnomaliesGate name the bad column.
    """
    feature = example.features.feature.get(user_key)
    if feature is None or feature.WhichOneof("kind") != "int64_list":
        return None
    values = feature.int64_list.value
    return values[0] if len(values) == 1 else None


def split_user_examples(user_and_examples: Tuple[Optional[int],
                                                  Iterable[tf.train.Example]],
                        seed: int, train_fraction: float
                        ) -> Iterable[beam.pvalue.TaggedOutput]:
    """One user's examples, tagged train or eval."""
    user_id, examples = user_and_examples
    examples = list(examples)
    if user_id is None:
        train, evaluation = examples, []
    else:
        train, evaluation = splitting.split_user_rows(
            examples, [row_key(example) for example in examples], user_id,
            seed, train_fraction)
    for example in train:
        yield beam.pvalue.TaggedOutput(_TRAIN, example)
    for example in evaluation:
        yield beam.pvalue.TaggedOutput(_EVAL, example)


def row_key(example: tf.train.Example) -> RowKey:
    """The example's values, feature by feature in name order."""
    key: List[Tuple[str, Tuple[Any, ...]]] = []
    for name in sorted(example.features.feature):
        feature = example.features.feature[name]
        kind = feature.WhichOneof("kind")
        values = tuple(getattr(feature, kind).value) if kind else ()
        key.append((name, values))
    return tuple(key)
