"""Quiet console start-up for the command-line tools."""
import os
import warnings


def quiet_tensorflow() -> None:
    """Hides TensorFlow's C++ start-up chatter and google-api-core's notice
    about Python 3.10 (the stack's pinned version): noise on a console.

    Call it before anything imports TensorFlow: the C++ log level is read
    once, when TensorFlow loads.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore",
                            message=".*non-supported Python version.*")


def quiet_kfp_compiler() -> None:
    """quiet_tensorflow, and what the KFP v1 compiler adds: kfp 1.8's
    advice to build reusable components (TFX builds its ContainerOps
    itself, nothing a user of this project can change).

    Call it at the top of a compiling runner, before TFX is imported.
    Process-wide logging levels (absl's) stay as they are: tests import
    the runners and read TFX's absl logs.
    """
    quiet_tensorflow()
    warnings.filterwarnings(
        "ignore", message=".*reusable components instead of constructing "
                          "ContainerOp.*", category=FutureWarning)
