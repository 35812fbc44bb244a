"""The console's progress lines (runtime/progress.py): a component's start,
finish and cache hit come from ProgressDagRunner, on a real two-component
pipeline run twice by TFX's launcher and ML Metadata; the Trainer's loss
from its log lines; absl's INFO records survive a SavedModel export. The
whole local runner's lines are checked in test_pipeline_e2e.py."""
import hashlib
import inspect
import io
import logging
import re

import pytest
import tensorflow as tf
from absl import logging as absl_logging
from tfx.dsl.component.experimental.annotations import (InputArtifact,
                                                         OutputArtifact)
from tfx.dsl.component.experimental.decorators import component
from tfx.orchestration import metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local import local_dag_runner
from tfx.types import standard_artifacts

from runtime import progress

# TFX 1.15.1's LocalDagRunner.run_with_ir, which ProgressDagRunner copies.
# A new TFX changes it: compare the copy with the new source, then update.
TFX_RUN_WITH_IR_SHA256 = (
    "ccbc5f643cc002e7727ef91b47afb320aebb4f110cda625f1ee87766fe1c40bf")


@component
def Produce(examples: OutputArtifact[standard_artifacts.Examples]):
    with open(f"{examples.uri}/data.txt", "w") as handle:
        handle.write("x")


@component
def Consume(examples: InputArtifact[standard_artifacts.Examples]):
    del examples


@component
def Fail(examples: InputArtifact[standard_artifacts.Examples]):
    raise RuntimeError(f"Fail read {examples.uri}")


def _pipeline(tmp_path, *components):
    """Produce, then the components reading its output."""
    produce = Produce()
    return tfx_pipeline.Pipeline(
        pipeline_name="p", pipeline_root=str(tmp_path / "root"),
        components=[produce, *(c(examples=produce.outputs["examples"])
                               for c in components)],
        enable_cache=True,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(tmp_path / "metadata.db")))


def _runner(pipeline, console):
    """The runner local_runner.py uses, printing to console."""
    return progress.ProgressDagRunner(progress.Progress(
        [c.id for c in pipeline.components], stream=console))


def _lines(output):
    """The lines with each time as T."""
    return re.sub(r"\(\d+\.\d s\)", "(T s)", output).splitlines()


def test_each_component_starts_and_finishes_then_comes_from_the_cache(
        tmp_path):
    first, second = io.StringIO(), io.StringIO()
    pipeline = _pipeline(tmp_path, Consume)
    runner = _runner(pipeline, first)
    runner.run(pipeline)
    assert _lines(first.getvalue()) == ["[ 1/2] Produce ...",
                                        "[ 1/2] Produce done (T s)",
                                        "[ 2/2] Consume ...",
                                        "[ 2/2] Consume done (T s)"]
    assert runner.progress.running is None

    pipeline = _pipeline(tmp_path, Consume)
    _runner(pipeline, second).run(pipeline)
    assert _lines(second.getvalue()) == [
        "[ 1/2] Produce ...",
        "[ 1/2] Produce reused from cache (T s)",
        "[ 2/2] Consume ...",
        "[ 2/2] Consume reused from cache (T s)"]


def test_a_failed_component_is_the_one_running(tmp_path):
    console = io.StringIO()
    pipeline = _pipeline(tmp_path, Fail)
    runner = _runner(pipeline, console)
    with pytest.raises(RuntimeError, match="Fail read"):
        runner.run(pipeline)
    assert runner.progress.running == "Fail"
    assert _lines(console.getvalue())[-1] == "[ 2/2] Fail ..."


def test_the_copied_loop_is_tfx_1_15_1s():
    source = inspect.getsource(local_dag_runner.LocalDagRunner.run_with_ir)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        TFX_RUN_WITH_IR_SHA256), (
        "TFX's LocalDagRunner.run_with_ir changed: bring "
        "runtime/progress.py's ProgressDagRunner.run_with_ir in line with "
        "it, then update TFX_RUN_WITH_IR_SHA256")


def _record(message, *args, name="tensorflow"):
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, args,
                             None)


def test_trainer_loss_and_plan_only_while_a_component_runs():
    console = io.StringIO()
    reporter = progress.Progress(["Transform", "Trainer"], stream=console)
    handler = progress.TrainerLogHandler(reporter)
    handler.emit(_record("loss = 3.5, step = 1"))  # nothing running
    reporter.started("Trainer")
    handler.emit(_record("Training wide-and-deep: %s, %d steps",
                         "DNNLinearCombinedRegressor", 60, name="absl"))
    handler.emit(_record("loss = %s, step = %s (0.1 sec)", 2.25, 7))
    # TFX's own lines are no longer progress: the runner reports these.
    handler.emit(_record("Component Transform is running.", name="absl"))
    handler.emit(_record("A cached execution 3 is used.", name="absl"))
    handler.emit(_record("global_step/sec: 10.5"))
    reporter.finished("Trainer", cached=False)
    handler.emit(_record("loss = 1.0, step = 60"))
    assert _lines(console.getvalue()) == [
        "[ 2/2] Trainer ...",
        "      Trainer: Training wide-and-deep: DNNLinearCombinedRegressor, "
        "60 steps",
        "      Trainer: step 7, loss 2.2500",
        "[ 2/2] Trainer done (T s)"]


def test_absl_info_reaches_the_log_file_after_a_saved_model_export(
        tmp_path, restore_logging):
    log = tmp_path / "run.log"
    progress.route_logs(str(log), ["Trainer"])
    module = tf.Module()
    module.double = tf.function(lambda x: 2 * x,
                                input_signature=[tf.TensorSpec([], tf.int32)])
    # TensorFlow sets absl's verbosity to FATAL and back while it saves.
    tf.saved_model.save(module, str(tmp_path / "model"))
    absl_logging.info("Component Pusher is running.")
    assert "Component Pusher is running." in log.read_text()
