"""The search that chose `--recipe fast`, on a validation split carved from
train (never the eval split).

    .venv/bin/python benchmarks/recipe_search.py --output-root outputs

Reads the newest Transform output of a finished rating-objective run in
--output-root (the transformed train split and the transform graph), holds
out a random --holdout share of the train rows as validation (seeded), and
for each candidate trains the project's own estimator
(trainer_module.model.build_estimator) on the rest with the candidate's
hyper-parameters, timing the training and scoring validation RMSE (clipped to
the rating scale, as served). Rows are fed from memory, so the seconds are
for comparing candidates with each other, not with the Trainer. Writes
benchmarks/results/<name>.json.
"""
import argparse
import glob
import os
import sys
import tempfile
import time
from typing import Dict, List, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402
from tensorflow import estimator as tf_estimator  # noqa: E402

from benchmarks import common  # noqa: E402
from pipeline import configs  # noqa: E402
from runtime import metadata_report  # noqa: E402
import movielens_features as features  # noqa: E402
from trainer_module import model, objectives  # noqa: E402

RESULTS = os.path.join(REPO, "benchmarks", "results")
# The seed; the seed without its TF1 loss sum and embedding max-norm (the
# pipeline's model before it matched the notebook's); fewer passes of the
# seed; narrower DNNs (the 1024-unit layers are most of a step's work) with
# fewer passes.
CANDIDATES: List[Dict] = [
    {},
    {"loss_reduction": "mean", "embedding_max_norm": False},
    {"epochs": 15},
    {"hidden_units": [256, 32, 256], "epochs": 30},
    {"hidden_units": [128, 32, 128], "epochs": 20},
    {"hidden_units": [128, 32, 128], "epochs": 30},
]
Arrays = Tuple[Dict[str, np.ndarray], np.ndarray]


def read_transformed_train(output_root: str, pipeline_name: str
                           ) -> Tuple[Arrays, tft.TFTransformOutput]:
    """(features, labels) of the newest transformed train split, and the
    transform output it came with."""
    store = metadata_report.open_existing_store(
        configs.LocalPaths(output_root, pipeline_name).metadata_path)
    graph = metadata_report.latest_output(store, configs.TRANSFORM_ID, "transform_graph")
    examples = metadata_report.latest_output(store, configs.TRANSFORM_ID,
                                             "transformed_examples")
    if graph is None or examples is None:
        raise SystemExit(f"error: no finished Transform in {output_root}")
    transform_output = tft.TFTransformOutput(graph.uri)
    files = glob.glob(os.path.join(examples.uri,
                                   f"Split-{configs.TRAIN_SPLIT}", "*.gz"))
    spec = transform_output.transformed_feature_spec()
    columns: Dict[str, List[np.ndarray]] = {key: [] for key in spec}
    for batch in tf.data.TFRecordDataset(files, "GZIP").batch(65536):
        for key, values in tf.io.parse_example(batch, spec).items():
            columns[key].append(values.numpy())
    arrays = {key: np.concatenate(values) for key, values in columns.items()}
    labels = arrays.pop(features.transformed_name(features.LABEL_KEY))
    return (arrays, labels), transform_output


def hold_out(data: Arrays, share: float, seed: int) -> Tuple[Arrays, Arrays]:
    """(fit rows, validation rows): a seeded random `share` held out."""
    arrays, labels = data
    held = np.random.default_rng(seed).random(len(labels)) < share
    return (({key: v[~held] for key, v in arrays.items()}, labels[~held]),
            ({key: v[held] for key, v in arrays.items()}, labels[held]))


def in_memory_input_fn(data: Arrays, batch_size: int, train: bool,
                       seed: int = 1):
    """Batches gathered from in-memory rows: shuffled and repeated for
    training, in order once otherwise."""
    arrays, labels = data

    def input_fn() -> tf.data.Dataset:
        columns = {key: tf.constant(v) for key, v in arrays.items()}
        label = tf.constant(labels)
        rows = tf.data.Dataset.range(len(labels))
        if train:
            rows = rows.shuffle(len(labels), seed=seed).repeat()
        return rows.batch(batch_size).map(lambda index: (
            {key: tf.gather(v, index) for key, v in columns.items()},
            tf.gather(label, index))).prefetch(2)
    return input_fn


def validation_rmse(estimator: tf_estimator.Estimator, data: Arrays) -> float:
    """RMSE of the estimator's ratings clipped to the scale, as served."""
    predictions = np.concatenate([
        output["predictions"].reshape(-1) for output in estimator.predict(
            in_memory_input_fn(data, 4096, train=False),
            yield_single_examples=False)])
    clipped = np.clip(predictions, features.RATING_MIN, features.RATING_MAX)
    return float(np.sqrt(np.mean((clipped - data[1]) ** 2)))


def try_candidate(values: Dict, fit: Arrays, validation: Arrays,
                  vocabulary: Tuple[int, int]) -> Dict:
    hparams = objectives.hparams_from_dict(values)
    steps = hparams.steps_for(len(fit[1]))
    with tempfile.TemporaryDirectory(prefix="recipe-") as model_dir:
        estimator = model.build_estimator(
            hparams, *vocabulary, tf_estimator.RunConfig(
                model_dir=model_dir, tf_random_seed=hparams.random_seed,
                save_checkpoints_steps=max(1, steps // 5),
                keep_checkpoint_max=1))
        started = time.time()
        estimator.train(in_memory_input_fn(fit, hparams.batch_size, True),
                        max_steps=steps)
        seconds = time.time() - started
        rmse = validation_rmse(estimator, validation)
    return {"hparams": values, "steps": steps,
            "train_seconds": round(seconds, 1),
            "validation_rmse": round(rmse, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-root", default=configs.DEFAULT_OUTPUT_ROOT)
    parser.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--name", default="recipe_search_ml100k")
    args = parser.parse_args()
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    data, transform_output = read_transformed_train(args.output_root,
                                                    args.pipeline_name)
    fit, validation = hold_out(data, args.holdout, args.seed)
    vocabulary = model.vocabulary_sizes(transform_output)
    results = []
    for values in CANDIDATES:
        results.append(try_candidate(values, fit, validation, vocabulary))
        print(results[-1], flush=True)
    common.write_report(os.path.join(RESULTS, args.name + ".json"), {
        "benchmark": args.name,
        "command": " ".join(["benchmarks/recipe_search.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d"),
        "holdout": args.holdout, "seed": args.seed,
        "fit_rows": len(fit[1]), "validation_rows": len(validation[1]),
        "candidates": results,
    })


if __name__ == "__main__":
    main()
