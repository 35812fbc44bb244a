"""A training cluster on this machine: one process per replica, on free
localhost ports, each with TF_CONFIG as Vertex AI training sets it.

`run_cluster` starts every replica's command at once, waits for all, and
kills the rest when one fails or time runs out, so a hung replica fails
the test instead of hanging it.
"""
import dataclasses
import json
import os
import pathlib
import socket
import subprocess
import time
from contextlib import ExitStack
from typing import Dict, List, Optional, Sequence

# Vertex AI training: worker pool i runs TF_CONFIG task type POOL_TASKS[i].
POOL_TASKS = ("chief", "worker", "ps", "evaluator")


def free_ports(count: int) -> List[int]:
    """`count` distinct localhost ports free right now (held open together
    while chosen, so none repeats)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("localhost", 0))
        return [sock.getsockname()[1] for sock in sockets]


def cluster_for(replica_counts: Dict[str, int]) -> Dict[str, List[str]]:
    """{task type: [host:port, ...]} with a free port per replica."""
    ports = iter(free_ports(sum(replica_counts.values())))
    return {task: [f"localhost:{next(ports)}" for _ in range(count)]
            for task, count in replica_counts.items() if count}


def tf_config(cluster: Dict[str, List[str]], task: str, index: int) -> str:
    """TF_CONFIG as Vertex AI sets it for one replica (the evaluator is not
    part of the training cluster)."""
    return json.dumps({
        "cluster": {name: hosts for name, hosts in cluster.items()
                    if name != "evaluator"},
        "task": {"type": task, "index": index, "trial": ""},
        "environment": "cloud"})


@dataclasses.dataclass
class ReplicaRun:
    """One replica's process and where its output went."""
    task: str
    index: int
    log: pathlib.Path
    process: Optional[subprocess.Popen] = None
    returncode: Optional[int] = None
    seconds: float = 0.0
    killed: bool = False  # by wait_all, after another failed or timed out

    @property
    def name(self) -> str:
        return f"{self.task}-{self.index}"

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def report(self) -> str:
        """How it ended, and the end of its output."""
        how = "killed" if self.killed else f"exit code {self.returncode}"
        return f"{self.name}: {how} after {self.seconds:.0f} s\n{self.tail()}"


def failures(runs: Dict[str, ReplicaRun]) -> str:
    """The reports of the replicas that failed, those that failed on their
    own first."""
    failed = sorted((run for run in runs.values() if run.returncode),
                    key=lambda run: run.killed)
    return "\n\n".join(run.report() for run in failed)


def start_replica(command: Sequence[str], cluster: Dict[str, List[str]],
                  task: str, index: int, folder: pathlib.Path,
                  env: Dict[str, str]) -> ReplicaRun:
    """The replica's command in its own folder (as a container's working
    directory), its stdout and stderr in folder/<task>-<index>.log."""
    run = ReplicaRun(task, index, folder / f"{task}-{index}.log")
    cwd = folder / run.name
    cwd.mkdir(parents=True, exist_ok=True)
    with open(run.log, "wb") as log:
        run.process = subprocess.Popen(
            list(command), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
            env={**env, "TF_CONFIG": tf_config(cluster, task, index)})
    return run


def wait_all(runs: List[ReplicaRun], timeout: float,
             started: float) -> None:
    """Waits for every replica; on the first failure or at the timeout,
    kills those still running (it started them)."""
    while any(run.returncode is None for run in runs):
        for run in runs:
            if run.returncode is None:
                run.returncode = run.process.poll()
                if run.returncode is not None:
                    run.seconds = time.time() - started
        failed = any(run.returncode not in (None, 0) for run in runs)
        if failed or time.time() - started > timeout:
            for run in runs:
                if run.returncode is None:
                    run.process.kill()
                    run.returncode = run.process.wait()
                    run.seconds = time.time() - started
                    run.killed = True
            return
        time.sleep(0.5)


def run_cluster(commands: Dict[str, Sequence[str]],
                replica_counts: Dict[str, int], folder: pathlib.Path,
                env: Dict[str, str], timeout: float = 300
                ) -> Dict[str, ReplicaRun]:
    """Every replica of `replica_counts` ({task type: count}) running its
    task's command; {replica name: its run} once all have ended."""
    cluster = cluster_for(replica_counts)
    started = time.time()
    runs = [start_replica(commands[task], cluster, task, index, folder, env)
            for task, hosts in cluster.items()
            for index in range(len(hosts))]
    wait_all(runs, timeout, started)
    return {run.name: run for run in runs}


def pod_env() -> Dict[str, str]:
    """This environment without PYTHONPATH: a replica imports the project
    from what is installed, as in the image."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env
