"""Which replica of a TF_CONFIG training cluster this process is.

Vertex AI training (and any TF_CONFIG cluster) starts the Trainer executor
once per replica, all with the same inputs and outputs: a chief, workers and
parameter servers (an evaluator optional). run_fn (trainer.py) reads its
role here: no cluster, or a cluster of one task, trains locally as always.

The replicas share model_run_dir. Each training replica writes a done
marker there (replicas/<task>-<index>/done.json) when its training returns;
a parameter server serves until the chief's and every worker's marker is
there, then returns, so that every replica's executor exits 0 (TF's own
parameter server would serve forever).
"""
import dataclasses
import json
import os
import time
from typing import Dict, List, Mapping, Optional

import tensorflow as tf
from absl import logging

TF_CONFIG_ENV = "TF_CONFIG"
CHIEF = "chief"
MASTER = "master"  # TF1's name of the chief; TFX treats master 0 as chief
WORKER = "worker"
PS = "ps"
EVALUATOR = "evaluator"
# The tasks that train (and so write a done marker the ps waits for).
TRAINING_TASKS = (CHIEF, MASTER, WORKER)
# Replica k (chief 0, worker i: i + 1) shuffles and samples negatives with
# the base seed + k * REPLICA_SEED_STRIDE: far from the seed of the eval
# negatives (seed + 1).
REPLICA_SEED_STRIDE = 10_000
REPLICAS_DIR = "replicas"
DONE_FILE = "done.json"


@dataclasses.dataclass(frozen=True)
class Replica:
    """This process's task in the cluster."""
    task_type: str
    index: int
    cluster: Dict[str, List[str]]

    @property
    def name(self) -> str:
        return f"{self.task_type}-{self.index}"

    @property
    def is_chief(self) -> bool:
        """As TFX's trainer executor decides who exports."""
        return self.task_type == CHIEF or (self.task_type == MASTER
                                           and self.index == 0)

    @property
    def trains(self) -> bool:
        return self.task_type in TRAINING_TASKS

    @property
    def ordinal(self) -> int:
        """0 for the chief, i + 1 for worker i: the seed offset."""
        return self.index + 1 if self.task_type == WORKER else 0


def current_replica(environ: Optional[Mapping[str, str]] = None
                    ) -> Optional[Replica]:
    """This process's replica from TF_CONFIG; None without a cluster or
    with a cluster of one task (Vertex sets TF_CONFIG for a single replica
    too), which train locally."""
    environ = os.environ if environ is None else environ
    config = json.loads(environ.get(TF_CONFIG_ENV) or "{}")
    cluster = config.get("cluster") or {}
    if sum(len(tasks) for tasks in cluster.values()) <= 1:
        return None
    task = config.get("task") or {}
    replica = Replica(task.get("type", ""), int(task.get("index", 0)),
                      {name: list(tasks) for name, tasks in cluster.items()})
    _check(replica)
    return replica


def _check(replica: Replica) -> None:
    if replica.task_type not in (*TRAINING_TASKS, PS, EVALUATOR):
        raise ValueError(f"TF_CONFIG task type {replica.task_type!r} is not "
                         f"one of {[*TRAINING_TASKS, PS, EVALUATOR]}")
    # Without a ps, every worker would train its own model in its own
    # graph (the estimator places variables on the ps tasks).
    if replica.cluster.get(WORKER) and not replica.cluster.get(PS):
        raise ValueError("TF_CONFIG has workers but no ps: the estimator's "
                         "replicas share their variables through ps tasks")


def replica_seed(base_seed: int, replica: Optional[Replica]) -> int:
    """The input seed of `replica`: its own shuffle order and negatives;
    base_seed itself when training locally or as the chief."""
    return base_seed + REPLICA_SEED_STRIDE * (replica.ordinal if replica
                                              else 0)


def replica_dir(model_run_dir: str, replica: Replica) -> str:
    """The replica's own folder in the shared model_run_dir."""
    return os.path.join(model_run_dir, REPLICAS_DIR, replica.name)


def mark_done(model_run_dir: str, replica: Replica, stats: dict) -> str:
    """Writes the replica's done marker (with `stats`); returns its
    folder."""
    folder = replica_dir(model_run_dir, replica)
    tf.io.gfile.makedirs(folder)
    with tf.io.gfile.GFile(os.path.join(folder, DONE_FILE), "w") as handle:
        json.dump({"task": replica.task_type, "index": replica.index,
                   **stats}, handle)
    return folder


def trainer_names(cluster: Dict[str, List[str]]) -> List[str]:
    """The replica names whose done markers end the training."""
    return [f"{task}-{index}" for task in TRAINING_TASKS
            for index in range(len(cluster.get(task, [])))]


def serve_until_trained(model_run_dir: str, replica: Replica,
                        poll_seconds: float = 1.0) -> None:
    """The parameter server: serves its variables until the chief and every
    worker are done. (TF's own ps, train_and_evaluate's run_ps, joins its
    server forever: the replica's executor would never exit.)"""
    server = tf.distribute.Server(
        tf.train.ClusterSpec(replica.cluster), job_name=replica.task_type,
        task_index=replica.index,
        config=tf.compat.v1.ConfigProto(log_device_placement=False),
        start=True)
    logging.info("Parameter server %s serving at %s until %s are done",
                 replica.name, server.target, trainer_names(replica.cluster))
    wait_for_trainers(model_run_dir, replica.cluster, poll_seconds)


def wait_for_trainers(model_run_dir: str, cluster: Dict[str, List[str]],
                      poll_seconds: float = 1.0) -> None:
    """Returns once every training replica's done marker exists."""
    waiting = trainer_names(cluster)
    while waiting:
        waiting = [name for name in waiting if not tf.io.gfile.exists(
            os.path.join(model_run_dir, REPLICAS_DIR, name, DONE_FILE))]
        if waiting:
            time.sleep(poll_seconds)
