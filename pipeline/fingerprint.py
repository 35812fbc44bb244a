"""Content hashes of user code, so that changed code re-runs its component.

The pipeline loads user code by dotted path (see configs.py). TFX's cache key
holds a component's inputs and execution properties, but not the source of a
function named by a dotted path, so each component that runs user code gets
the hash of that code as an execution property: edit the code, and the key
changes; leave it alone, and the cached result is reused.
"""
import hashlib
import importlib.util
import pathlib
from typing import Iterable


def source_fingerprint(module_names: Iterable[str]) -> str:
    """SHA-256 over the source of the named modules, in sorted order."""
    digest = hashlib.sha256()
    for name in sorted(set(module_names)):
        digest.update(name.encode())
        # Read the file rather than import it: building a pipeline must not
        # need TensorFlow loaded.
        digest.update(pathlib.Path(
            importlib.util.find_spec(name).origin).read_bytes())
    return digest.hexdigest()


# What each component's user code is made of.
TRANSFORM_MODULES = ("trainer_module.features", "trainer_module.preprocessing")
TRAINER_MODULES = TRANSFORM_MODULES + (
    "trainer_module.hparams", "trainer_module.history",
    "trainer_module.model", "trainer_module.negatives",
    "trainer_module.trainer")
# The recommender core the TopKEvaluator runs (and the NegativeSampler's
# genre rule) is part of their code.
TOPK_EVALUATOR_MODULES = (
    "components.topk_evaluator.blessing", "components.topk_evaluator.evaluate",
    "components.topk_evaluator.executor", "recommender.catalog",
    "recommender.data", "recommender.ease", "recommender.metrics",
    "recommender.pool", "recommender.scoring", "trainer_module.history")
NEGATIVE_SAMPLER_MODULES = (
    "components.negative_sampler.executor",
    "components.negative_sampler.sampling",
    "components.negative_sampler.transforms", "recommender.catalog")
STRATIFIED_EXAMPLE_GEN_MODULES = (
    "components.stratified_example_gen.executor",
    "components.stratified_example_gen.splitting")
