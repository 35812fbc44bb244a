"""The training objectives, one module each (rating.py, ranking.py), with
everything that differs between them: the default model, the estimator head,
the label, the score-to-prediction mapping, the eval sampling, the TFMA
EvalConfig and its gate, and what the report shows (base.Objective)."""
from typing import Dict

from trainer_module import features
from trainer_module.objectives.base import Objective, ReportView
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


__all__ = ["Objective", "ReportView", "RATING", "RANKING", "get"]
