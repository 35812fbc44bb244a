"""AtomicPusher's executor: TFX's Pusher with push.py's all-or-nothing
publication, recording which model and objective each push served."""
import functools
import json
from typing import Any, Dict, List, NamedTuple, Tuple

from absl import logging
from tfx import types
from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import path_utils, proto_utils

from components.atomic_pusher import push

# Custom properties of the PushedModel, beside TFX's pushed,
# pushed_destination and pushed_version.
PUSHED_MODEL_ID_KEY = "pushed_model_id"
OBJECTIVE_KEY = "objective"
ALREADY_SERVED_KEY = "already_served"
REMOVED_KEY = "removed_partial_versions"
# custom_config keys.
SIGNATURES_KEY = "signatures"


class Settings(NamedTuple):
    base_directory: str
    objective: str
    signatures: Tuple[str, ...]


def parse_settings(exec_properties: Dict[str, Any]) -> Settings:
    """The push destination and the custom_config; errors name the field."""
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
        destination)
    if destination.WhichOneof("destination") != "filesystem":
        raise ValueError("AtomicPusher pushes to a filesystem only; "
                         "push_destination has no `filesystem`")
    base = destination.filesystem.base_directory
    if not base:
        raise ValueError("push_destination.filesystem.base_directory is "
                         "empty")
    config = json.loads(exec_properties.get(
        standard_component_specs.CUSTOM_CONFIG_KEY) or "null") or {}
    objective = config.get(OBJECTIVE_KEY)
    if not objective:
        raise ValueError(f"custom_config[{OBJECTIVE_KEY!r}] must name the "
                         f"model's objective")
    return Settings(base, objective,
                    tuple(config.get(SIGNATURES_KEY) or ()))


class Executor(tfx_pusher.Executor):
    """Pushes a blessed model; never leaves a partial version behind."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        settings = parse_settings(exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.MODEL_KEY])
        result = push.push_model(
            path_utils.serving_model_path(model.uri),
            settings.base_directory, model.uri,
            functools.partial(push.check_loads,
                              signatures=settings.signatures))
        self._MarkPushed(model_push, pushed_destination=result.path,
                         pushed_version=str(result.version))
        model_push.set_int_custom_property(PUSHED_MODEL_ID_KEY, model.id)
        model_push.set_string_custom_property(OBJECTIVE_KEY,
                                              settings.objective)
        model_push.set_int_custom_property(ALREADY_SERVED_KEY,
                                           int(result.already_served))
        model_push.set_string_custom_property(REMOVED_KEY,
                                              json.dumps(result.removed))
        logging.info("Pusher: %s", describe(result))


def describe(result: push.PushResult) -> str:
    """One line for the log: what is served now, what was cleaned up."""
    text = (f"model already served as version {result.version} "
            f"({result.path}); nothing copied" if result.already_served
            else f"model pushed as version {result.version} ({result.path})")
    if result.removed:
        text += (f"; removed {len(result.removed)} partial version(s) left "
                 f"by an earlier failed push: {', '.join(result.removed)}")
    return text
