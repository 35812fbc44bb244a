"""What a run trained for, read from its ML Metadata store.

The objective ("rating" or "ranking") is a Trainer hyper-parameter: the
pipeline passes HParams.to_dict() in the Trainer's custom_config under
"hparams" (pipeline/pipeline.py), and the store records custom_config as an
execution property (JSON). A run made before the objective existed has no
"objective" key: it trained the rating model.
"""
import json
import os
from typing import Iterable, Optional

from pipeline import configs
from runtime import metadata_report
import movielens_features as features
from trainer_module.hparams import CUSTOM_CONFIG_KEY

TRAINER = configs.TRAINER_ID
_CUSTOM_CONFIG = "custom_config"


def execution_objective(execution) -> Optional[str]:
    """The objective in a Trainer execution's custom_config; None when the
    execution records no custom_config at all."""
    for properties in (execution.custom_properties, execution.properties):
        if _CUSTOM_CONFIG in properties:
            text = properties[_CUSTOM_CONFIG].string_value
            config = json.loads(text) if text else {}
            hparams = (config or {}).get(CUSTOM_CONFIG_KEY) or {}
            objective = hparams.get("objective", features.RATING_OBJECTIVE)
            if objective not in features.OBJECTIVES:
                raise ValueError(f"unknown objective {objective!r} in the "
                                 f"Trainer's custom_config")
            return objective
    return None


def latest_trainer_objective(store) -> str:
    """The objective of the Trainer's newest successful execution (the
    rating objective when the store has none or it records nothing)."""
    model = metadata_report.latest_output(store, TRAINER, "model")
    found = _objective_of_artifacts(store, [model] if model else [])
    return found or features.RATING_OBJECTIVE


def model_objective(store, model_dir: str) -> str:
    """The objective of the Trainer that made the model at model_dir.

    model_dir is a pushed model (a Pusher's pushed_destination) or a Trainer
    model artifact's folder (or a folder inside it, e.g. Format-Serving).
    A folder the store does not know (a model from elsewhere) gets the
    objective of the store's newest Trainer.
    """
    wanted = os.path.normpath(os.path.abspath(model_dir))
    models = []
    for pushed in _artifacts_of_type(store, "PushedModel"):
        destination = pushed.custom_properties.get("pushed_destination")
        if destination is not None and _same_or_inside(
                wanted, destination.string_value):
            models.extend(_pusher_input_models(store, pushed.id))
    if not models:
        models = [model for model in _artifacts_of_type(store, "Model")
                  if model.uri and _same_or_inside(wanted, model.uri)]
    return (_objective_of_artifacts(store, models)
            or latest_trainer_objective(store))


def _objective_of_artifacts(store, artifacts: Iterable) -> Optional[str]:
    """The objective of the execution that output the newest artifact."""
    from ml_metadata.proto import metadata_store_pb2
    for artifact in sorted(artifacts, key=lambda a: a.id, reverse=True):
        ids = [event.execution_id
               for event in store.get_events_by_artifact_ids([artifact.id])
               if event.type == metadata_store_pb2.Event.OUTPUT]
        for execution in store.get_executions_by_id(sorted(ids)):
            objective = execution_objective(execution)
            if objective is not None:
                return objective
    return None


def _pusher_input_models(store, pushed_model_id: int):
    """The model artifact(s) the Pusher execution that output
    pushed_model_id read."""
    from ml_metadata.proto import metadata_store_pb2
    pushers = [event.execution_id
               for event in store.get_events_by_artifact_ids([pushed_model_id])
               if event.type == metadata_store_pb2.Event.OUTPUT]
    ids = [event.artifact_id
           for event in store.get_events_by_execution_ids(pushers)
           if event.type == metadata_store_pb2.Event.INPUT
           and event.path.steps and event.path.steps[0].key == "model"]
    return store.get_artifacts_by_id(ids) if ids else []


def _artifacts_of_type(store, type_name: str):
    import ml_metadata as mlmd
    try:
        return store.get_artifacts_by_type(type_name)
    except mlmd.errors.NotFoundError:
        return []


def _same_or_inside(path: str, folder: str) -> bool:
    folder = os.path.normpath(os.path.abspath(folder))
    return path == folder or path.startswith(folder + os.sep)
