"""AtomicPusher: TFX's Pusher (same inputs, parameters and output), whose
executor publishes a version only once it is whole and loads."""
from tfx.components import Pusher
from tfx.dsl.components.base import executor_spec

from components.atomic_pusher import executor


class AtomicPusher(Pusher):
    """Pusher with push.py's staging, load check and rename.

    custom_config: {"objective": the model's objective (recorded on the
    PushedModel, so the baseline resolver compares like with like),
    "signatures": signature names the model must have to be pushed}.
    """
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
