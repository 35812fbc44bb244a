"""Where the recommend command finds things: the metadata store, the pushed
model and its objective, the data the pipeline read and the movie titles.
A problem the user can fix raises RecommendError."""
import os
from typing import TYPE_CHECKING, Dict, NamedTuple, Optional

import pandas as pd

from pipeline import configs
from reporting.recommend_ranking import Ranker, rated_pairs

if TYPE_CHECKING:
    import ml_metadata as mlmd
    from recommender.catalog import Catalog

# Titles of the default data set, used only when the store does not say
# where the data came from (kept relative: the command runs from the repo).
FALLBACK_ITEMS_CSV = os.path.join("data", "ml-100k-items.csv")


class RecommendError(Exception):
    """A problem the user can fix; main prints it and exits with code 2."""


class PipelineData(NamedTuple):
    """What the pipeline read, as ranking needs it."""
    catalog: "Catalog"
    rated: pd.DataFrame  # user_id, item_id of every split, distinct
    data_dir: Optional[str]  # the folder CsvExampleGen read, if recorded


def open_existing_store(path: str) -> "mlmd.MetadataStore":
    """The metadata store at path; refuses to create a new, empty one."""
    from runtime import metadata_report
    try:
        return metadata_report.open_existing_store(path)
    except FileNotFoundError as error:
        raise RecommendError(str(error)) from None


def pushed_model_dir(store: "mlmd.MetadataStore", pipeline_name: str,
                     output_root: str) -> str:
    """The newest model the Pusher pushed; an error when there is none."""
    from runtime import metadata_report
    pushed = metadata_report.latest_pushed_model(store)
    if not pushed:
        raise RecommendError(
            f"pipeline {pipeline_name!r} has no pushed model yet; run "
            f"`python local_runner.py --output-root {output_root} "
            f"--pipeline-name {pipeline_name}` until a model is pushed, or "
            f"pass --model-dir")
    if not os.path.isdir(pushed):
        raise RecommendError(f"the pushed model {pushed} no longer exists")
    return pushed


def popularity_warning(store: "mlmd.MetadataStore", model_dir: str
                       ) -> Optional[str]:
    """The report's warning when model_dir is the served model and its
    TopKEvaluator found it ranking below popularity; None otherwise."""
    from components.topk_evaluator.executor import read_evaluation
    from runtime import metadata_report
    served = metadata_report.served_model(store)
    if (served is None or served.topk_uri is None
            or os.path.normpath(served.destination)
            != os.path.normpath(model_dir)):
        return None
    return metadata_report.below_popularity(
        read_evaluation(served.topk_uri), "this model")


def load_ranker(model_dir: str) -> Ranker:
    """The model's serving_topk (ServedTopK); a ModelScorer for a model
    exported before it (loaded a second time); a user-facing error."""
    import tensorflow as tf
    from recommender.scoring import ModelScorer
    from reporting.recommend_ranking import ServedTopK
    from trainer_module.model import TOPK_SIGNATURE
    if not os.path.isdir(model_dir):
        raise RecommendError(f"no model directory {model_dir}")
    try:
        loaded = tf.saved_model.load(model_dir)
        if TOPK_SIGNATURE in loaded.signatures:
            return ServedTopK(loaded)
        return ModelScorer(model_dir)
    except (OSError, ValueError) as error:
        raise RecommendError(f"cannot load the model at {model_dir}: "
                             f"{error}") from error


def model_objective(store: "mlmd.MetadataStore", model_dir: str) -> str:
    """The objective the model was trained for, from the store."""
    from reporting import run_info
    try:
        return run_info.model_objective(store, model_dir)
    except ValueError as error:  # a custom_config that is not valid
        raise RecommendError(f"cannot tell what the model at {model_dir} "
                             f"predicts: {error}") from error


def load_pipeline_data(store: "mlmd.MetadataStore") -> PipelineData:
    """Catalog and rated pairs of the newest CsvExampleGen output."""
    from tfx.types import artifact_utils
    from recommender.catalog import build_catalog
    from recommender.data import read_split
    from runtime import metadata_report
    examples = metadata_report.latest_examples(store)
    if examples is None:
        raise RecommendError("the metadata store has no CsvExampleGen "
                             "examples; run local_runner.py first")
    names = artifact_utils.decode_split_names(examples.split_names)
    if configs.TRAIN_SPLIT not in names:
        raise RecommendError(f"the examples at {examples.uri} have no "
                             f"{configs.TRAIN_SPLIT!r} split ({names})")
    splits = {name: read_split(examples, name) for name in names}
    train = splits.pop(configs.TRAIN_SPLIT)
    others = (pd.concat(list(splits.values()), ignore_index=True)
              if splits else train.iloc[:0])
    return PipelineData(catalog=build_catalog(train, others),
                        rated=rated_pairs([train, others]),
                        data_dir=example_gen_input_base(store))


def example_gen_input_base(store: "mlmd.MetadataStore") -> Optional[str]:
    """The data folder the newest CsvExampleGen output was read from."""
    from ml_metadata.proto import metadata_store_pb2
    from runtime import metadata_report
    artifact = metadata_report.latest_output(store, configs.EXAMPLE_GEN_ID,
                                             "examples")
    if artifact is None:
        return None
    ids = [event.execution_id
           for event in store.get_events_by_artifact_ids([artifact.id])
           if event.type == metadata_store_pb2.Event.OUTPUT]
    for execution in store.get_executions_by_id(ids):
        value = execution.custom_properties.get("input_base")
        if value is not None and value.string_value:
            return value.string_value
    return None


def find_items_csv(given: Optional[str], data_dir: Optional[str]
                   ) -> Optional[str]:
    """--items-csv; else the items file beside the data folder the store
    names (or none: another data set's titles would be wrong); else, when
    the store names no folder, data/ml-100k-items.csv if it exists."""
    from movielens_data.output import items_csv_path
    if given:
        if not os.path.isfile(given):
            raise RecommendError(f"no items file {given}")
        return given
    if data_dir:
        # The store knows the data folder: only its own titles are right.
        beside = str(items_csv_path(data_dir))
        return beside if os.path.isfile(beside) else None
    return FALLBACK_ITEMS_CSV if os.path.isfile(FALLBACK_ITEMS_CSV) else None


def load_titles(path: Optional[str]) -> Optional[Dict[int, str]]:
    from movielens_data.output import read_titles
    if path is None:
        return None
    try:
        return read_titles(path)
    except (OSError, ValueError, KeyError) as error:
        raise RecommendError(f"cannot read titles from {path}: "
                             f"{error}") from error
