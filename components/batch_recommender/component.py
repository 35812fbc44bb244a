"""BatchRecommender: every user's top-k recommendations from the model the
Pusher served, published as a versioned artifact (TFX's BulkInferrer
pattern, for a recommender).

It reads the Pusher's PushedModel, so its lists come from exactly the
model being served; when the Pusher pushed nothing (the model was not
blessed), it writes no lists and says so on its artifact, and the run goes
on. Ranks equal the TopKEvaluator's ranking of the same model (recommend.py).
"""
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.batch_recommender import executor

DEFAULT_TOP_K = 10


class BatchRecommenderSpec(types.ComponentSpec):
    """Inputs, outputs and parameters of BatchRecommender."""
    PARAMETERS = {
        "top_k": ExecutionParameter(type=int),
        "train_split": ExecutionParameter(type=str),
        "eval_split": ExecutionParameter(type=str),
        # The items CSV the titles come from (item_id, title, ...); absent,
        # or no such file at run time: empty titles.
        "items_path": ExecutionParameter(type=str, optional=True),
        # Hash of the component's code: an edit re-runs it (cache key).
        "code_fingerprint": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        "pushed_model": ChannelParameter(
            type=standard_artifacts.PushedModel),
        "examples": ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {
        # BulkInferrer's output type: recommendations.csv and
        # recommendations.tfrecord, the batch's facts as custom properties.
        "recommendations": ChannelParameter(
            type=standard_artifacts.InferenceResult),
    }


class BatchRecommender(base_beam_component.BaseBeamComponent):
    """Every user's top-k unseen movies from the served model."""

    SPEC_CLASS = BatchRecommenderSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self,
                 pushed_model: types.BaseChannel,
                 examples: types.BaseChannel,
                 top_k: int = DEFAULT_TOP_K,
                 train_split: str = "train",
                 eval_split: str = "eval",
                 items_path: Optional[str] = None,
                 code_fingerprint: Optional[str] = None):
        """Args:
          pushed_model: the Pusher's output; its pushed_destination is the
            served SavedModel.
          examples: the raw examples the TopKEvaluator read: the catalog
            and the users come from both splits, and each user's
            train_split movies are never recommended.
          top_k: movies per user.
          items_path: the items CSV with the movies' titles (the pipeline
            passes the file beside its data folder); None: no titles.
        """
        parameters = dict(top_k=top_k, train_split=train_split,
                          eval_split=eval_split)
        if items_path:
            parameters["items_path"] = items_path
        # Fail when the pipeline is built, not after the training.
        executor.parse_parameters(parameters)
        spec = BatchRecommenderSpec(
            pushed_model=pushed_model, examples=examples,
            code_fingerprint=code_fingerprint,
            recommendations=types.Channel(
                type=standard_artifacts.InferenceResult),
            **parameters)
        super().__init__(spec=spec)
