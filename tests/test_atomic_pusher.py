"""components.atomic_pusher: a version is served whole or not at all.

On tiny SavedModels: a full disk mid-copy, a model that does not load, and
the leftovers of an earlier crash leave the served versions as they were;
the next push publishes; the baseline is the last model served.
"""
import errno
import json
import os

import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components.atomic_pusher import baseline, executor, push
from conftest import tree_digest

SIGNATURES = ("serving_default", "serving_raw")


def save_model(path, signatures=SIGNATURES, value=1.0):
    """A SavedModel whose signatures return `value` for every example."""
    module = tf.Module()
    module.value = tf.Variable(value)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(examples):
        return {"predictions": tf.fill(tf.shape(examples), module.value)}

    tf.saved_model.save(module, str(path),
                        signatures={name: serve for name in signatures})
    return str(path)


@pytest.fixture(scope="module", name="models")
def fixture_models(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    return {"old": save_model(base / "old", value=1.0),
            "new": save_model(base / "new", value=2.0),
            "no_raw": save_model(base / "no_raw", ("serving_default",))}


def check(path):
    push.check_loads(path, SIGNATURES)


def served_value(version_dir):
    loaded = tf.saved_model.load(version_dir)
    return float(loaded.signatures["serving_default"](
        examples=tf.constant([b""]))["predictions"][0])


def full_disk_after_first_file(source, destination):
    """copy_model as a disk that fills after one file."""
    os.makedirs(destination)
    first = sorted(f for f in os.listdir(source)
                   if os.path.isfile(os.path.join(source, f)))[0]
    with open(os.path.join(destination, first), "wb") as handle:
        handle.write(b"\0" * 100)
    raise OSError(errno.ENOSPC, "No space left on device", destination)


@pytest.fixture(name="serving")
def fixture_serving(tmp_path, models):
    """A serving folder with the old model as version 100."""
    base = str(tmp_path / "serving")
    result = push.push_model(models["old"], base, "uri://old", check, now=100)
    assert result.version == 100
    return base


def test_push_publishes_a_whole_version_that_loads(serving, models):
    result = push.push_model(models["new"], serving, "uri://new", check,
                             now=200)
    assert (result.version, result.already_served, result.removed) == (
        200, False, [])
    assert sorted(os.listdir(serving)) == ["100", "200"]
    assert served_value(result.path) == 2.0
    with open(os.path.join(result.path, push.PROVENANCE_FILE)) as handle:
        assert json.load(handle) == {"model_uri": "uri://new"}


def test_disk_full_mid_copy_leaves_only_the_old_version(
        serving, models, monkeypatch):
    before = tree_digest(serving)
    monkeypatch.setattr(push, "copy_model", full_disk_after_first_file)
    with pytest.raises(OSError) as raised:
        push.push_model(models["new"], serving, "uri://new", check, now=200)
    assert raised.value.errno == errno.ENOSPC
    # No partial version, not even under its staging name.
    assert os.listdir(serving) == ["100"]
    assert tree_digest(serving) == before
    # Space again: the next push publishes.
    monkeypatch.undo()
    result = push.push_model(models["new"], serving, "uri://new", check,
                             now=200)
    assert push.served_versions(serving) == [100, 200]
    assert served_value(result.path) == 2.0


def test_a_model_that_does_not_load_as_served_is_not_published(
        serving, models):
    with pytest.raises(push.PushError,
                       match=r"lacks the signature\(s\) \['serving_raw'\]"):
        push.push_model(models["no_raw"], serving, "uri://no_raw", check,
                        now=200)
    assert os.listdir(serving) == ["100"]


def test_leftovers_of_a_crash_are_removed_and_reported(serving, models):
    # A staging folder of a killed push, and a truncated highest version
    # (as TFX's own Pusher left after a full disk): neither is served.
    staging = os.path.join(serving, push.STAGING_PREFIX + "150")
    os.makedirs(staging)
    truncated = os.path.join(serving, "160")
    os.makedirs(truncated)
    with open(os.path.join(models["new"], "saved_model.pb"), "rb") as handle:
        head = handle.read(1000)
    with open(os.path.join(truncated, "saved_model.pb"), "wb") as handle:
        handle.write(head)
    assert not push.is_complete(truncated)
    assert push.is_complete(os.path.join(serving, "100"))

    result = push.push_model(models["new"], serving, "uri://new", check,
                             now=120)
    assert result.removed == [staging, truncated]
    assert result.version == 120
    assert sorted(os.listdir(serving)) == ["100", "120"]
    assert "removed 2 partial version(s)" in executor.describe(result)


def test_the_served_model_is_not_copied_again(serving, models):
    again = push.push_model(models["old"], serving, "uri://old", check,
                            now=300)
    assert (again.version, again.already_served) == (100, True)
    assert os.listdir(serving) == ["100"]
    assert "already served as version 100" in executor.describe(again)


def test_an_older_version_of_the_model_is_pushed_again_to_be_served(
        serving, models):
    push.push_model(models["new"], serving, "uri://new", check, now=200)
    back = push.push_model(models["old"], serving, "uri://old", check,
                           now=200)
    # TF Serving loads the highest version: the old model must be it.
    assert (back.version, back.already_served) == (201, False)
    assert served_value(back.path) == 1.0


# ----------------------------------------------------------------- executor


def _artifact(kind, artifact_id, uri="", **custom):
    artifact = kind()
    artifact.id, artifact.uri = artifact_id, uri
    for key, value in custom.items():
        if isinstance(value, int):
            artifact.set_int_custom_property(key, value)
        else:
            artifact.set_string_custom_property(key, value)
    return artifact


def run_executor(tmp_path, models, blessed, objective="rating"):
    model_uri = tmp_path / "model"
    os.makedirs(model_uri)
    os.symlink(models["new"], model_uri / "Format-Serving")
    model = _artifact(standard_artifacts.Model, 7, str(model_uri))
    blessing = _artifact(standard_artifacts.ModelBlessing, 8,
                         str(tmp_path / "blessing"), blessed=int(blessed))
    pushed = _artifact(standard_artifacts.PushedModel, 9,
                       str(tmp_path / "pushed"))
    serving = str(tmp_path / "serving")
    executor.Executor().Do(
        {"model": [model], "model_blessing": [blessing]},
        {"pushed_model": [pushed]},
        {"push_destination": json.dumps(
            {"filesystem": {"base_directory": serving}}),
         "custom_config": json.dumps({"objective": objective,
                                      "signatures": list(SIGNATURES)})})
    return pushed, serving


def test_executor_records_what_it_served(tmp_path, models):
    pushed, serving = run_executor(tmp_path, models, blessed=True,
                                   objective="ranking")
    [version] = os.listdir(serving)
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_version") == version
    assert pushed.get_string_custom_property("pushed_destination") == (
        os.path.join(serving, version))
    assert pushed.get_int_custom_property("pushed_model_id") == 7
    assert pushed.get_string_custom_property("objective") == "ranking"
    assert pushed.get_int_custom_property("already_served") == 0


def test_executor_pushes_nothing_unblessed(tmp_path, models):
    pushed, serving = run_executor(tmp_path, models, blessed=False)
    assert pushed.get_int_custom_property("pushed") == 0
    assert not os.path.exists(serving)


def test_executor_refuses_a_config_without_objective():
    with pytest.raises(ValueError, match=r"custom_config\['objective'\]"):
        executor.parse_settings({
            "push_destination": json.dumps(
                {"filesystem": {"base_directory": "/tmp/x"}}),
            "custom_config": json.dumps({"signatures": []})})


# ----------------------------------------------------------------- baseline


def _push(push_id, model_id, objective="rating", pushed=1):
    return _artifact(standard_artifacts.PushedModel, push_id, pushed=pushed,
                     pushed_model_id=model_id, objective=objective)


MODELS = [_artifact(standard_artifacts.Model, i) for i in (1, 2, 3, 4)]


@pytest.mark.parametrize("pushes, candidates, expected", [
    ([], {4}, None),
    # The newest push of this objective.
    ([_push(10, 1), _push(11, 2)], {4}, 2),
    # The candidate itself is served: its predecessor, as when it was pushed.
    ([_push(10, 1), _push(11, 2)], {2}, 1),
    # A failed (not pushed) or other-objective push is no baseline.
    ([_push(10, 1), _push(11, 2, pushed=0)], {4}, 1),
    ([_push(10, 1), _push(11, 3, objective="ranking")], {4}, 1),
    # Push order, not model order: model 1 was pushed again after model 2.
    ([_push(10, 1), _push(11, 2), _push(12, 1)], {4}, 1),
])
def test_baseline_is_the_last_served_model_other_than_the_candidate(
        pushes, candidates, expected):
    found = baseline.latest_pushed_model(MODELS, pushes, candidates,
                                         "rating")
    assert (found.id if found else None) == expected


def test_strategy_returns_the_baseline_under_the_model_key():
    strategy = baseline.LatestPushedModelStrategy(objective="rating")
    resolved = strategy.resolve_artifacts(None, {
        "model": MODELS, "pushed_model": [_push(10, 1)],
        "candidate": [MODELS[3]]})
    assert [m.id for m in resolved["model"]] == [1]
    empty = strategy.resolve_artifacts(None, {
        "model": MODELS, "pushed_model": [], "candidate": [MODELS[3]]})
    assert empty["model"] == []
