"""CsvExampleGen's executor without a Beam pipeline.

Thin: validates the configuration, calls reading.py, and sets the output
artifact's properties as ExampleGen's own Do does. For a machine's worth of
ratings Beam's per-element cost (about seven DoFns per row) is most of
CsvExampleGen's time: 12 s of it for ML-100k, an hour for ML-20m. The
pipeline uses it wherever Beam would run on the component's own machine
(the local runner's presets, the in-pod DirectRunner on Kubeflow); a Beam
cluster (portable, Dataflow) gets TFX's Beam executor.
"""
import os
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.components.example_gen import utils, write_split
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs as specs
from tfx.utils import proto_utils

from components.in_process_example_gen import reading


class Executor(csv_executor.Executor):
    """CSV files in, ExampleGen's splits out, in this process: Do builds
    no Beam pipeline (the class is TFX's CSV executor's, which
    FileBasedExampleGen's Beam executor spec requires)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[specs.INPUT_CONFIG_KEY],
                                  input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[specs.OUTPUT_CONFIG_KEY],
                                  output_config)
        check_supported(exec_properties, output_config)
        split_names = utils.generate_output_split_names(input_config,
                                                        output_config)
        splits = read_splits(exec_properties[specs.INPUT_BASE_KEY],
                             input_config, output_config, split_names)
        logging.info("CsvExampleGen: examples per split: %s",
                     reading.split_counts(splits))
        examples = output_dict[specs.EXAMPLES_KEY]
        artifact = artifact_utils.get_single_instance(examples)
        artifact.split_names = artifact_utils.encode_split_names(split_names)
        for name, records in splits.items():
            reading.write_split_records(
                records, artifact_utils.get_split_uri(examples, name))
        examples_utils.set_payload_format(
            artifact, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(
            artifact, write_split.to_file_format_str(
                example_gen_pb2.FORMAT_TFRECORDS_GZIP))


def check_supported(exec_properties: Dict[str, Any],
                    output_config: example_gen_pb2.Output) -> None:
    """Refuses, by name, what this executor does not write: payloads other
    than tf.Example, files other than gzipped TFRecords, splits by a
    feature."""
    payload = exec_properties.get(specs.OUTPUT_DATA_FORMAT_KEY)
    if payload not in (None, example_gen_pb2.FORMAT_TF_EXAMPLE):
        raise ValueError(
            "the in-process CsvExampleGen writes tf.Examples only, got "
            f"output_data_format {example_gen_pb2.PayloadFormat.Name(payload)}")
    file_format = exec_properties.get(specs.OUTPUT_FILE_FORMAT_KEY)
    if file_format not in (None, example_gen_pb2.FILE_FORMAT_UNSPECIFIED,
                           example_gen_pb2.FORMAT_TFRECORDS_GZIP):
        raise ValueError(
            "the in-process CsvExampleGen writes gzipped TFRecords only, got "
            f"output_file_format {file_format}")
    if output_config.split_config.partition_feature_name:
        raise ValueError(
            "the in-process CsvExampleGen splits by hash of the whole "
            "example; partition_feature_name "
            f"{output_config.split_config.partition_feature_name!r} needs "
            "TFX's Beam executor")


def read_splits(input_base: str, input_config: example_gen_pb2.Input,
                output_config: example_gen_pb2.Output,
                split_names: List[str]) -> Dict[str, List[bytes]]:
    """{split name: serialized examples}: one input split hash-split by the
    output config, or each input split as it is."""
    if output_config.split_config.splits:
        if len(input_config.splits) != 1:
            raise ValueError("an output split config needs exactly one input "
                             f"split, got {len(input_config.splits)}")
        files, columns = reading.matching_csv_files(
            os.path.join(input_base, input_config.splits[0].pattern))
        return dict(zip(split_names, reading.hash_split_examples(
            files, columns, output_config.split_config)))
    splits = {}
    for name, split in zip(split_names, input_config.splits):
        files, columns = reading.matching_csv_files(
            os.path.join(input_base, split.pattern))
        splits[name] = reading.all_examples(files, columns)
    return splits
