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
