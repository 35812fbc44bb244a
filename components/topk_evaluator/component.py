"""TopKEvaluator: the recommender's own evaluator and the Pusher's gate.

TFMA ranks only the examples present per query; a recommender must rank every
item a user has not seen. This component scores that whole pool with the
trained model (and with the baseline model, a popularity ranker and, with
ease_l2 > 0, an EASE ranker), reports rating and ranking metrics, and blesses
the model only if every check of blessing.py passes.
"""
import json
from typing import Dict, Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.topk_evaluator import executor

DEFAULT_TOP_K = 10


class TopKEvaluatorSpec(types.ComponentSpec):
    """Inputs, outputs and parameters of TopKEvaluator."""
    PARAMETERS = {
        "top_k": ExecutionParameter(type=int),
        # JSON objects {metric name: bound}, e.g. {"ndcg@k": 0.05}.
        "min_thresholds": ExecutionParameter(type=str),
        "max_thresholds": ExecutionParameter(type=str),
        # JSON list of metrics compared with the baseline model.
        "baseline_metrics": ExecutionParameter(type=str),
        "baseline_tolerance": ExecutionParameter(type=float),
        "train_split": ExecutionParameter(type=str),
        "eval_split": ExecutionParameter(type=str),
        # 1: the model predicts ratings, so rmse, mae, ... are computed too;
        # 0: a ranking model, whose scores are not ratings.
        "rating_metrics": ExecutionParameter(type=int, optional=True),
        # > 0: EASE (recommender/ease.py) with this L2 strength, fitted on
        # the train split, ranks the same pool as the "ease" ranker; a
        # reference beside popularity, never part of the blessing. Absent
        # or 0: off.
        "ease_l2": ExecutionParameter(type=float, optional=True),
        # > 0: rank the pool of a seeded sample of this many users (all
        # their pairs) instead of every user's, with a 95 % confidence
        # interval per metric; for data too large to rank whole on one
        # machine. Absent or 0: every user.
        "sample_users": ExecutionParameter(type=int, optional=True),
        "sample_seed": ExecutionParameter(type=int, optional=True),
        # Hash of the component's code: an edit re-runs it (cache key).
        "code_fingerprint": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "model": ChannelParameter(type=standard_artifacts.Model),
        "baseline_model": ChannelParameter(type=standard_artifacts.Model,
                                           optional=True),
        "tfma_blessing": ChannelParameter(
            type=standard_artifacts.ModelBlessing, optional=True),
        # The TFMA Evaluator's evaluation: its validation result explains
        # a TFMA blessing refused (tfma_validations.py).
        "tfma_evaluation": ChannelParameter(
            type=standard_artifacts.ModelEvaluation, optional=True),
    }
    OUTPUTS = {
        "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation),
        "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


class TopKEvaluator(base_beam_component.BaseBeamComponent):
    """Rating and top-k metrics over the full unseen pool, and a blessing."""

    SPEC_CLASS = TopKEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self,
                 examples: types.BaseChannel,
                 model: types.BaseChannel,
                 baseline_model: Optional[types.BaseChannel] = None,
                 tfma_blessing: Optional[types.BaseChannel] = None,
                 tfma_evaluation: Optional[types.BaseChannel] = None,
                 top_k: int = DEFAULT_TOP_K,
                 min_thresholds: Optional[Dict[str, float]] = None,
                 max_thresholds: Optional[Dict[str, float]] = None,
                 baseline_metrics: Sequence[str] = ("ndcg@k", "rmse"),
                 baseline_tolerance: float = 0.0,
                 train_split: str = "train",
                 eval_split: str = "eval",
                 rating_metrics: bool = True,
                 ease_l2: float = 0.0,
                 sample_users: int = 0,
                 sample_seed: int = 0,
                 code_fingerprint: Optional[str] = None):
        """Args:
          examples: raw examples with the train and eval splits.
          model: the Trainer's model (its Format-Serving SavedModel).
          baseline_model: the model served last, through a resolver.
          tfma_blessing: the TFMA Evaluator's blessing; not blessed there
            means not blessed here.
          tfma_evaluation: the TFMA Evaluator's evaluation; when TFMA did
            not bless, the "TFMA Evaluator blessed the model" check names
            each of its failed validations (metric, value, threshold,
            slice), e.g. "root_mean_squared_error = 1.2500, upper bound 1.2
            (overall slice)"; without it, "(see its validations)". So a
            limit TFMA gates (the pipeline's RMSE) needs no max threshold
            here to be explained in this component's log and result.
          top_k: recommendations per user.
          min_thresholds / max_thresholds: {metric: bound}; metric names are
            rmse, mae, rsquared, exp_var, precision@k, recall@k, ndcg@k,
            map, map@k ({} or None: none; rating metrics only with
            rating_metrics).
          baseline_metrics, baseline_tolerance: the model must not be worse
            than the baseline on these metrics by more than the tolerance.
          rating_metrics: False for a model whose scores are not ratings
            (the ranking objective): no rmse, mae, rsquared, exp_var.
          ease_l2: > 0 adds EASE alone, fitted on the train split with this
            L2 strength, as the "ease" ranker beside popularity (its
            metrics and curves in the evaluation, not in the blessing);
            0: off (the parameter is then left out).
          sample_users, sample_seed: > 0 ranks a seeded sample of this
            many users' pools (the catalog, popularity and EASE still come
            from every user's train rows) and reports each metric with a
            95 % confidence interval; 0: every user (the parameters are
            then left out).
        """
        parameters = dict(
            top_k=top_k,
            min_thresholds=json.dumps(min_thresholds or {}, sort_keys=True),
            max_thresholds=json.dumps(max_thresholds or {}, sort_keys=True),
            baseline_metrics=json.dumps(list(baseline_metrics)),
            baseline_tolerance=float(baseline_tolerance),
            train_split=train_split,
            eval_split=eval_split,
            rating_metrics=int(rating_metrics))
        if ease_l2:
            parameters["ease_l2"] = float(ease_l2)
        if sample_users:
            parameters.update(sample_users=sample_users,
                              sample_seed=sample_seed)
        # Fail when the pipeline is built, not hours later in the executor.
        executor.parse_parameters(parameters)
        spec = TopKEvaluatorSpec(
            examples=examples, model=model, baseline_model=baseline_model,
            tfma_blessing=tfma_blessing, tfma_evaluation=tfma_evaluation,
            code_fingerprint=code_fingerprint,
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
            **parameters)
        super().__init__(spec=spec)
