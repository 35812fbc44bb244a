"""One line per pipeline step on the console; the full logs go to a file.

LocalDagRunner, Beam and TensorFlow log thousands of lines per run. The local
runner sends all of them to a log file and shows a person only this: each
component starting and finishing (or being reused from the cache), and the
Trainer's loss as it trains. It also knows which component is running, so
that a failure can be named after it.

Where the lines come from (TFX 1.15.1):

- A component's start, finish and cache hit: from the runner, not from its
  log. LocalDagRunner offers no hook: run_with_ir
  (tfx/orchestration/local/local_dag_runner.py:40-110) runs the nodes in
  one loop, builds each node's launcher.Launcher itself (:98) and drops what
  launch() returns (:109); no callback, listener or per-node method a
  subclass could override (IrBasedRunner.run, portable/tfx_runner.py:112-124,
  only compiles the pipeline and calls run_with_ir). So ProgressDagRunner
  is that method copied, with a call to Progress before and after each
  node's launch (lines marked "progress"), and
  tests/test_progress.py fails when TFX's source of it changes (review the
  copy then). Whether a node was a cache hit is not in what launch()
  returns (the ExecutionInfo, portable/launcher.py:568-628, has only its
  execution id) but in ML Metadata: a cache hit is published as a CACHED
  execution (launcher.py:416, portable/execution_publish_utils.py:47);
  the runner reads that execution's state once the node returns.
  Polling ML Metadata from a watcher thread instead was rejected: the run's
  context is named inside run_with_ir (local_dag_runner.py:56-60), an
  execution is registered only after its inputs are resolved (launcher.py
  _register_or_reuse_execution), so the start line would come late by that
  and the poll interval, and a second SQLite connection would read beside
  the writer throughout the run.
- The Trainer's plan and loss: log lines ("Training wide-and-deep: ..."
  from trainer_module/trainer.py, the estimator's "loss = .., step = .."),
  matched only while a component runs. No structured source reaches the
  runner: run_fn runs inside the Trainer's executor (in this process for
  the local runner, in other processes on a cluster, where this console is
  not), and the estimator's own logging hook is what reports the loss. A
  SessionRunHook in trainer.py would read the loss, but would still need a
  channel from run_fn to this console (a module global, or the log again).

TFX and trainer.py log at INFO through absl, so route_logs sets absl's
verbosity (its flag, not only its logger's level) to INFO: every SavedModel
export (Transform's, the Trainer's) sets absl's verbosity to FATAL and back
to the flag's value (tensorflow/python/trackable/autotrackable.py:89-90),
which is WARNING by default and would drop those records from the log file
and the Trainer's plan from the console for the rest of the run.
"""
import datetime
import errno
import logging
import re
import sys
import time
from typing import Dict, List, Optional, TextIO

from absl import logging as absl_logging
from ml_metadata.proto import metadata_store_pb2
# Not tfx.v1: see pipeline/pipeline.py.
from tfx.dsl.compiler import constants
from tfx.orchestration import metadata
from tfx.orchestration.local import local_dag_runner, runner_utils
from tfx.orchestration.portable import (data_types, launcher,
                                        partial_run_utils,
                                        runtime_parameter_utils)
from tfx.proto.orchestration import pipeline_pb2
from tfx.utils import telemetry_utils

_TRAIN_LOSS = re.compile(r"^loss = ([-\d.e+]+), step = (\d+)")
_TRAIN_PLAN = re.compile(r"^Training wide-and-deep: .*")


class Progress:
    """Prints a line when a component starts and when it finishes (done, or
    reused from the cache, with its time), and lines about it meanwhile."""

    def __init__(self, components: List[str], stream: TextIO = sys.stdout):
        self._order: Dict[str, int] = {
            name: i + 1 for i, name in enumerate(components)}
        self._stream = stream
        self._current: Optional[str] = None
        self._started = 0.0

    @property
    def running(self) -> Optional[str]:
        """The component that started and has not finished: after a failed
        run, the one that failed."""
        return self._current

    def started(self, component: str) -> None:
        self._current, self._started = component, time.time()
        self._print(f"{self._prefix(component)} {component} ...")

    def finished(self, component: str, cached: bool) -> None:
        how = "reused from cache" if cached else "done"
        self._print(f"{self._prefix(component)} {component} {how} "
                    f"({time.time() - self._started:.1f} s)")
        self._current = None

    def note(self, line: str) -> None:
        """A line about the running component (none running: dropped)."""
        if self._current:
            self._print(f"      {self._current}: {line}")

    def _prefix(self, component: str) -> str:
        return f"[{self._order.get(component, 0):2d}/{len(self._order)}]"

    def _print(self, line: str) -> None:
        print(line, file=self._stream, flush=True)


class ProgressDagRunner(local_dag_runner.LocalDagRunner):
    """LocalDagRunner that tells `progress` when each node starts, and when
    it finishes whether it ran or was a cache hit."""

    def __init__(self, progress: Progress):
        super().__init__()
        self.progress = progress

    def run_with_ir(
            self,
            pipeline: pipeline_pb2.Pipeline,
            run_options: Optional[pipeline_pb2.RunOptions] = None,
    ) -> None:
        # TFX 1.15.1's LocalDagRunner.run_with_ir (Apache License 2.0,
        # copyright the TensorFlow Authors), but for the lines marked
        # "progress" (see the module's docstring).
        runtime_parameter_utils.substitute_runtime_parameter(
            pipeline, {
                constants.PIPELINE_RUN_ID_PARAMETER_NAME:
                    datetime.datetime.now().isoformat(),
            })

        deployment_config = runner_utils.extract_local_deployment_config(
            pipeline)
        connection_config = getattr(
            deployment_config.metadata_connection_config,
            deployment_config.metadata_connection_config.WhichOneof(
                'connection_config'))

        absl_logging.info('Using deployment config:\n %s', deployment_config)
        absl_logging.info('Using connection config:\n %s', connection_config)

        if run_options:
            absl_logging.info('Using run_options:\n %s', run_options)
            pr_opts = run_options.partial_run
            partial_run_utils.mark_pipeline(
                pipeline,
                from_nodes=pr_opts.from_nodes or None,
                to_nodes=pr_opts.to_nodes or None,
                snapshot_settings=pr_opts.snapshot_settings)

        with telemetry_utils.scoped_labels(
                {telemetry_utils.LABEL_TFX_RUNNER: 'local'}):
            for node in pipeline.nodes:
                pipeline_node = node.pipeline_node
                node_id = pipeline_node.node_info.id
                if pipeline_node.execution_options.HasField('skip'):
                    absl_logging.info('Skipping component %s.', node_id)
                    continue
                executor_spec = runner_utils.extract_executor_spec(
                    deployment_config, node_id)
                custom_driver_spec = runner_utils.extract_custom_driver_spec(
                    deployment_config, node_id)

                component_launcher = launcher.Launcher(
                    pipeline_node=pipeline_node,
                    mlmd_connection=metadata.Metadata(connection_config),
                    pipeline_info=pipeline.pipeline_info,
                    pipeline_runtime_spec=pipeline.runtime_spec,
                    executor_spec=executor_spec,
                    custom_driver_spec=custom_driver_spec)
                absl_logging.info('Component %s is running.', node_id)
                self.progress.started(node_id)  # progress
                if pipeline_node.execution_options.run.perform_snapshot:
                    with metadata.Metadata(connection_config) as mlmd_handle:
                        partial_run_utils.snapshot(mlmd_handle, pipeline)
                execution_info = component_launcher.launch()  # progress: kept
                self.progress.finished(node_id, cached=_cache_hit(  # progress
                    connection_config, execution_info))
                absl_logging.info('Component %s is finished.', node_id)


def _cache_hit(connection_config,
               execution_info: Optional[data_types.ExecutionInfo]) -> bool:
    """Whether the launcher published the node's execution as CACHED."""
    if execution_info is None or execution_info.execution_id is None:
        return False  # the driver skipped it, or a resolver resolved nothing
    with metadata.Metadata(connection_config) as handle:
        [execution] = handle.store.get_executions_by_id(
            [execution_info.execution_id])
    return (execution.last_known_state
            == metadata_store_pb2.Execution.CACHED)


class TrainerLogHandler(logging.Handler):
    """Passes the Trainer's plan and loss log lines to `progress` (the only
    progress lines that come from the log)."""

    def __init__(self, progress: Progress):
        super().__init__(level=logging.INFO)
        self._progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        if not self._progress.running:
            return
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return
        if match := _TRAIN_LOSS.match(message):
            self._progress.note(f"step {match.group(2)}, "
                                f"loss {float(match.group(1)):.4f}")
        elif _TRAIN_PLAN.match(message):
            self._progress.note(message)


class LogFileHandler(logging.FileHandler):
    """The log file; on a full disk it drops records silently, instead of
    printing a traceback per record on the console: the run's own error
    says that the disk is full."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return
        super().handleError(record)


def route_logs(log_path: str, components: List[str]) -> Progress:
    """Sends every log record to log_path, the Trainer's loss to stdout;
    returns the Progress that ProgressDagRunner reports to."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = LogFileHandler(log_path)
    file_handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    progress = Progress(components)
    root.addHandler(file_handler)
    root.addHandler(TrainerLogHandler(progress))
    root.setLevel(logging.INFO)
    # absl and TensorFlow keep their own handlers; route them through root.
    for name in ("absl", "tensorflow"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        logger.setLevel(logging.INFO)
    # The flag too: see the module's docstring.
    absl_logging.set_verbosity(absl_logging.INFO)
    return progress
