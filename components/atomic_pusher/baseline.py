"""The baseline a candidate model is judged against: the model served last
for the same objective, other than the candidate itself.

Unlike TFX's LatestBlessedModelStrategy, a blessing alone does not make a
baseline: a model blessed but never pushed (the push failed) is still
compared with the served one on the next run, so that run reproduces the
decision and pushes it. Leaving the candidate out keeps the inputs of an
unchanged re-run equal to those of the run that pushed it: the evaluators
and the Pusher come from the cache.
"""
from typing import Dict, List, Optional

import ml_metadata as mlmd
from tfx import types
from tfx.dsl.components.common import resolver

from components.atomic_pusher.executor import (OBJECTIVE_KEY,
                                               PUSHED_MODEL_ID_KEY)

# Resolver input (and output) keys.
MODEL_KEY = "model"
PUSHED_MODEL_KEY = "pushed_model"
CANDIDATE_KEY = "candidate"


class LatestPushedModelStrategy(resolver.ResolverStrategy):
    """Resolves MODEL_KEY to [the baseline] or [] (no model served yet)."""

    def __init__(self, objective: str):
        self._objective = objective

    def resolve_artifacts(
            self, store: mlmd.MetadataStore,
            input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        baseline = latest_pushed_model(
            input_dict.get(MODEL_KEY, []),
            input_dict.get(PUSHED_MODEL_KEY, []),
            {model.id for model in input_dict.get(CANDIDATE_KEY, [])},
            self._objective)
        return {**input_dict, MODEL_KEY: [baseline] if baseline else []}


def latest_pushed_model(models: List[types.Artifact],
                        pushes: List[types.Artifact], candidate_ids: set,
                        objective: str) -> Optional[types.Artifact]:
    """The model of the newest successful push of `objective` whose model
    is not a candidate."""
    by_id = {model.id: model for model in models}
    for pushed in sorted(pushes, key=lambda a: a.id, reverse=True):
        if (pushed.get_int_custom_property("pushed") == 1
                and pushed.get_string_custom_property(OBJECTIVE_KEY)
                == objective):
            model_id = pushed.get_int_custom_property(PUSHED_MODEL_ID_KEY)
            if model_id not in candidate_ids and model_id in by_id:
                return by_id[model_id]
    return None
