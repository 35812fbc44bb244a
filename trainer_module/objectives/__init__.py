"""The training objectives, one module each (rating.py, ranking.py), with
everything that differs between them: the default model, the estimator head,
the label, the score-to-prediction mapping, the eval sampling, the TFMA
EvalConfig and its gate, and what the report shows (base.Objective)."""
from typing import Any, Dict, Optional

import movielens_features as features
from trainer_module.hparams import HParams
from trainer_module.objectives.base import Objective, ReportView
from trainer_module.objectives import ranking, rating
from trainer_module.objectives.ranking import RankingObjective
from trainer_module.objectives.rating import RatingObjective

RATING: Objective = RatingObjective()
RANKING: Objective = RankingObjective()
_BY_NAME: Dict[str, Objective] = {RATING.name: RATING, RANKING.name: RANKING}
assert tuple(_BY_NAME) == features.OBJECTIVES


def get(name: str) -> Objective:
    """The objective called `name` (features.OBJECTIVES)."""
    if name not in _BY_NAME:
        raise ValueError(f"objective must be one of {list(_BY_NAME)}, got "
                         f"{name!r}")
    return _BY_NAME[name]


def hparams_from_dict(values: Dict[str, Any]) -> HParams:
    """Inverse of HParams.to_dict; an unknown key is an error. Keys left
    out take the defaults of the objective given (rating when none is), so
    {"objective": "ranking"} alone is the ranking objective's model."""
    objective = get(values.get("objective", features.RATING_OBJECTIVE))
    return objective.default_hparams().replaced(values)


def recipe(name: str, overrides: Optional[Dict[str, Any]] = None) -> HParams:
    """The hyper-parameters of recipe `name` (rating.RECIPES), with
    `overrides` (e.g. flags) on top. Recipes other than the seed's are the
    rating objective's; the seed's takes the defaults of the objective in
    `overrides`."""
    if name not in rating.RECIPES:
        raise ValueError(f"recipe must be one of {sorted(rating.RECIPES)}, "
                         f"got {name!r}")
    values = {**rating.RECIPES[name], **(overrides or {})}
    objective = values.get("objective", RATING.name)
    if name != rating.SEED_RECIPE and objective != RATING.name:
        raise ValueError(f"recipe {name!r} is for the {RATING.name} "
                         f"objective, not {objective!r}")
    return hparams_from_dict(values)


__all__ = ["Objective", "ReportView", "RATING", "RANKING", "get",
           "hparams_from_dict", "recipe"]
