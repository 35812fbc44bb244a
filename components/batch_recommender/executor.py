"""BatchRecommender's executor: validates parameters, finds the model the
Pusher served, calls recommend.py and records what it wrote on the output
artifact."""
import time
from typing import Any, Dict, List, NamedTuple, Optional

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components.atomic_pusher.executor import PUSHED_MODEL_ID_KEY
from components.batch_recommender import recommend
from recommender import data

# TFX Pusher's custom properties of a PushedModel.
PUSHED_KEY = "pushed"
PUSHED_DESTINATION_KEY = "pushed_destination"
PUSHED_VERSION_KEY = "pushed_version"
# Custom properties of the output artifact. RECOMMENDED_KEY 0: the Pusher
# pushed nothing (the model was not blessed), so no lists were written.
RECOMMENDED_KEY = "recommended"
K_KEY = "k"
USERS_KEY = "users"
ROWS_KEY = "rows"
MODEL_URI_KEY = "model_uri"  # the served version's folder
MODEL_VERSION_KEY = "model_version"  # its version number (TF Serving's)
MODEL_ID_KEY = "model_id"  # the Trainer's Model artifact it was pushed from
TITLES_KEY = "titles"  # the items file the titles came from ("" if none)


class Parameters(NamedTuple):
    top_k: int
    train_split: str
    eval_split: str
    # The items CSV (item_id, title, ...); absent or missing: no titles.
    items_path: str = ""


class ServedModel(NamedTuple):
    """The model a PushedModel says was served."""
    path: str
    version: str
    model_id: int


def parse_parameters(exec_properties: Dict[str, Any]) -> Parameters:
    """Checks the parameters before any work; errors name the parameter."""
    top_k = exec_properties["top_k"]
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer (movies "
                         f"recommended per user), got {top_k!r}")
    splits = exec_properties["train_split"], exec_properties["eval_split"]
    if splits[0] == splits[1]:
        raise ValueError(f"train_split and eval_split must differ, both are "
                         f"{splits[0]!r}")
    return Parameters(top_k, *splits, exec_properties.get("items_path") or "")


def served_model(pushed: types.Artifact) -> Optional[ServedModel]:
    """What the Pusher served, or None when it pushed nothing."""
    if pushed.get_int_custom_property(PUSHED_KEY) != 1:
        return None
    return ServedModel(
        pushed.get_string_custom_property(PUSHED_DESTINATION_KEY),
        pushed.get_string_custom_property(PUSHED_VERSION_KEY),
        pushed.get_int_custom_property(PUSHED_MODEL_ID_KEY))


class Executor(base_beam_executor.BaseBeamExecutor):
    """Pushed model + raw examples -> every user's top-k, or, when nothing
    was pushed, an artifact recording so (the run goes on)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        params = parse_parameters(exec_properties)
        pushed = artifact_utils.get_single_instance(input_dict["pushed_model"])
        output = artifact_utils.get_single_instance(
            output_dict["recommendations"])
        output.set_int_custom_property(K_KEY, params.top_k)
        served = served_model(pushed)
        if served is None:
            output.set_int_custom_property(RECOMMENDED_KEY, 0)
            logging.info("BatchRecommender: the Pusher pushed no model (not "
                         "blessed); no recommendations written")
            return
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        train = data.read_split(examples, params.train_split)
        eval_ = data.read_split(examples, params.eval_split)
        titles_path = recommend.find_titles(params.items_path)
        started = time.time()
        summary = recommend.recommend(
            train, eval_, served.path, params.top_k,
            recommend.read_titles(titles_path) if titles_path else None,
            self._make_beam_pipeline, self._get_tmp_dir(), output.uri)
        record_recommendations(output, served, summary, titles_path or "")
        logging.info("BatchRecommender: top %d of %d users (%d rows, %d "
                     "shards) from model version %s in %.1f s: %s",
                     params.top_k, summary.users, summary.rows,
                     summary.shards, served.version, time.time() - started,
                     output.uri)


def record_recommendations(output: types.Artifact, served: ServedModel,
                           summary: recommend.Summary,
                           titles_path: str) -> None:
    """The custom properties ML Metadata keeps for a written batch."""
    output.set_int_custom_property(RECOMMENDED_KEY, 1)
    output.set_int_custom_property(USERS_KEY, summary.users)
    output.set_int_custom_property(ROWS_KEY, summary.rows)
    output.set_string_custom_property(MODEL_URI_KEY, served.path)
    output.set_string_custom_property(MODEL_VERSION_KEY, served.version)
    output.set_int_custom_property(MODEL_ID_KEY, served.model_id)
    output.set_string_custom_property(TITLES_KEY, titles_path)
