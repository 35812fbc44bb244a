"""NegativeSampler: the eval split a ranking objective's classifier is
judged on (by TFMA).

Every raw eval rating becomes a positive (label 1) and gets sampled
negatives (label 0, rating 0.0): items the user rated in neither the train
nor the eval split, drawn uniformly from the items of the train split. The
output is deterministic given the seed, whatever the runner's parallelism
(sampling.py). The ranking Trainer draws its training negatives itself,
from the same distribution, as it reads the ratings
(trainer_module/negatives.py).
"""
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.negative_sampler import executor


class NegativeSamplerSpec(types.ComponentSpec):
    """Inputs, outputs and parameters of NegativeSampler."""
    PARAMETERS = {
        "negatives_per_positive": ExecutionParameter(type=int),
        "seed": ExecutionParameter(type=int),
        "user_fraction": ExecutionParameter(type=float, optional=True),
        # Hash of the component's code: an edit re-runs it (cache key).
        "code_fingerprint": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {
        "sampled_examples": ChannelParameter(type=standard_artifacts.Examples),
    }


class NegativeSampler(base_beam_component.BaseBeamComponent):
    """Raw examples -> the eval ratings, labelled, with sampled
    negatives."""

    SPEC_CLASS = NegativeSamplerSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self,
                 examples: types.BaseChannel,
                 negatives_per_positive: int,
                 seed: int,
                 user_fraction: float = 1.0,
                 code_fingerprint: Optional[str] = None):
        """Args:
          examples: ExampleGen's raw examples with a train and an eval split.
          negatives_per_positive: negatives sampled for each eval
            positive.
          seed: with the user id, seeds every draw.
          user_fraction: in (0, 1]: examples for a seeded sample of about
            this share of the users only (sampling.keeps_user), so TFMA
            reads that share at scale; 1: every user.
        """
        # Fail when the pipeline is built, not later in the executor.
        parameters = executor.parse_parameters(dict(
            negatives_per_positive=negatives_per_positive, seed=seed,
            user_fraction=user_fraction))._asdict()
        spec = NegativeSamplerSpec(
            examples=examples, code_fingerprint=code_fingerprint,
            sampled_examples=types.Channel(type=standard_artifacts.Examples),
            **parameters)
        super().__init__(spec=spec)
