"""NegativeSampler's executor: validates parameters and the input, runs
transforms.sample_examples, and marks the output as ExampleGen marks its
own (split names, payload and file format)."""
from typing import Any, Dict, List, NamedTuple

from absl import logging
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.negative_sampler import splits, transforms

# What ExampleGen's default output is: gzipped TFRecords of tf.Examples.
FILE_FORMAT = "tfrecords_gzip"


class Parameters(NamedTuple):
    negatives_per_positive: int
    seed: int
    user_fraction: float = 1.0


def parse_parameters(exec_properties: Dict[str, Any]) -> Parameters:
    """Checks the parameters before any work; errors name the parameter."""
    _check_int("negatives_per_positive",
               exec_properties["negatives_per_positive"], minimum=1)
    _check_int("seed", exec_properties["seed"], minimum=0)
    fraction = exec_properties.get("user_fraction")
    fraction = 1.0 if fraction is None else fraction
    if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
            or not 0.0 < fraction <= 1.0):
        raise ValueError(f"user_fraction must be a number in (0, 1], got "
                         f"{fraction!r}")
    return Parameters(exec_properties["negatives_per_positive"],
                      exec_properties["seed"], float(fraction))


def _check_int(name: str, value: Any, minimum: int) -> None:
    kind = "a positive" if minimum == 1 else "a non-negative"
    if (isinstance(value, bool) or not isinstance(value, int)
            or value < minimum):
        raise ValueError(f"{name} must be {kind} integer, got {value!r}")


def check_input(examples: types.Artifact) -> None:
    """The input must be tf.Examples with a train and an eval split."""
    payload = examples_utils.get_payload_format(examples)
    if payload != example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE:
        raise ValueError(
            f"the examples at {examples.uri} are "
            f"{example_gen_pb2.PayloadFormat.Name(payload)}; the "
            f"NegativeSampler reads FORMAT_TF_EXAMPLE")
    names = artifact_utils.decode_split_names(examples.split_names)
    missing = [split for split in splits.SPLITS if split not in names]
    if missing:
        raise ValueError(f"the examples at {examples.uri} have no split(s) "
                         f"{missing} (they have {names})")


class Executor(base_beam_executor.BaseBeamExecutor):
    """Raw examples -> the eval split: each eval example labelled 1, each
    followed by its sampled negatives labelled 0."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        params = parse_parameters(exec_properties)
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        check_input(examples)
        output = artifact_utils.get_single_instance(
            output_dict["sampled_examples"])
        output.split_names = artifact_utils.encode_split_names([splits.EVAL])
        inputs = {split: io_utils.all_files_pattern(
            artifact_utils.get_split_uri([examples], split))
            for split in splits.SPLITS}
        logging.info("NegativeSampler: %d negatives per positive, seed %d, "
                     "users: %s", params.negatives_per_positive, params.seed,
                     "all" if params.user_fraction == 1.0 else
                     f"a seeded {params.user_fraction:.1%}")

        with self._make_beam_pipeline() as pipeline:
            transforms.sample_examples(
                pipeline, inputs,
                artifact_utils.get_split_uri([output], splits.EVAL),
                params.negatives_per_positive, params.seed,
                user_fraction=params.user_fraction)

        examples_utils.set_payload_format(
            output, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(output, FILE_FORMAT)
        # Same data, same span and version as the input (resolvers by span).
        output.span = examples.span
        output.version = examples.version
        try:
            counts = transforms.counter_values(pipeline.result)
        except Exception as error:  # pylint: disable=broad-except
            # Counters are only reported: a runner without metrics must not
            # fail a run whose output is complete.
            logging.warning("NegativeSampler: no counters (%s)", error)
        else:
            logging.info("NegativeSampler: %s", summary_text(counts))


def summary_text(counts: Dict[str, int]) -> str:
    """One line: the eval split's positives and negatives."""
    split = splits.EVAL
    return (f"{split}: {counts[f'{split}_positives']:,} positives, "
            f"{counts[f'{split}_negatives']:,} negatives, "
            f"{counts[f'{split}_users_without_negatives']:,} users without "
            f"negatives")
