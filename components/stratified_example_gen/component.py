"""StratifiedCsvExampleGen: CsvExampleGen with a per-user stratified split."""
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.stratified_example_gen import executor


class StratifiedCsvExampleGen(FileBasedExampleGen):
    """Reads CSV files like CsvExampleGen; splits every user's ratings
    between the output config's two splits in the proportion of their
    hash_buckets (3:1 = 75 % train), seeded by `seed`."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, input_base: str,
                 output_config: example_gen_pb2.Output,
                 seed: int, user_key: str, code_fingerprint: str = ""):
        super().__init__(
            input_base=input_base, output_config=output_config,
            custom_config=executor.custom_config(seed, user_key,
                                                 code_fingerprint))
