"""InProcessCsvExampleGen: CsvExampleGen without a Beam pipeline."""
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec

from components.in_process_example_gen import executor


class InProcessCsvExampleGen(FileBasedExampleGen):
    """Reads CSV files and writes the splits CsvExampleGen writes, in the
    component's own process. (A Beam executor spec, as FileBasedExampleGen
    requires; the executor builds no Beam pipeline.)"""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
