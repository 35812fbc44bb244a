"""The Trainer as a Vertex AI custom training job with worker pools.

TFX's Google Cloud AI Platform Trainer (tfx.extensions.google_cloud_ai_
platform) runs in the pipeline's pod: it submits a Vertex AI CustomJob whose
every replica runs the plain Trainer executor (`python -m tfx.scripts.
run_executor --executor_class_path tfx.components.trainer.executor.
GenericExecutor` with the Trainer's inputs and outputs) in the pool's image,
and waits for it. Vertex gives each replica TF_CONFIG from its pool: pool 0
the chief, pool 1 the workers, pool 2 the parameter servers; run_fn takes
its part from it (trainer_module/distributed.py).

Imports no TFX: the runners report a bad flag at once.
"""
from typing import Any, Dict, List

# The custom_config keys the AI Platform Trainer reads (trainer.executor.
# TRAINING_ARGS_KEY, constants.ENABLE_VERTEX_KEY and VERTEX_REGION_KEY of
# tfx.extensions.google_cloud_ai_platform), spelt out here.
TRAINING_ARGS_KEY = "ai_platform_training_args"
ENABLE_VERTEX_KEY = "ai_platform_enable_vertex"
VERTEX_REGION_KEY = "ai_platform_vertex_region"
DEFAULT_MACHINE_TYPE = "n1-standard-4"
# Vertex maps worker pools to TF_CONFIG task types by position.
CHIEF_POOL, WORKER_POOL, PS_POOL = 0, 1, 2


def worker_pool_specs(image: str, machine_type: str, worker_count: int,
                      ps_count: int) -> List[Dict[str, Any]]:
    """One chief; with workers, the worker pool and the ps pool (the
    estimator's workers share variables through parameter servers)."""
    if worker_count < 0 or ps_count < 0:
        raise ValueError("worker and ps counts must be >= 0")
    if bool(worker_count) != bool(ps_count):
        raise ValueError(
            f"workers and parameter servers go together (the estimator's "
            f"replicas share variables on the ps), got {worker_count} "
            f"worker(s) and {ps_count} ps")
    counts = [1, worker_count, ps_count] if worker_count else [1]
    return [{"machine_spec": {"machine_type": machine_type},
             "replica_count": count,
             "container_spec": {"image_uri": image}} for count in counts]


def trainer_vertex_spec(project: str, region: str, image: str,
                        machine_type: str = DEFAULT_MACHINE_TYPE,
                        worker_count: int = 0, ps_count: int = 0
                        ) -> Dict[str, Any]:
    """The custom_config entries that make the AI Platform Trainer run a
    Vertex AI CustomJob in `project` and `region` with these pools, every
    replica on `image` (the pipeline's: it has this package installed)."""
    if not project or not region:
        raise ValueError("Vertex AI training needs a project and a region")
    return {
        ENABLE_VERTEX_KEY: True,
        VERTEX_REGION_KEY: region,
        TRAINING_ARGS_KEY: {
            "project": project,
            "job_spec": {"worker_pool_specs": worker_pool_specs(
                image, machine_type, worker_count, ps_count)},
        },
    }
