"""Names and defaults of the pipeline; runners override them with flags."""
import os

PIPELINE_NAME = "movielens-wide-deep"

# Component ids, named once: create_pipeline gives each node its id, and the
# metadata queries, the reports and the tests find the node's runs by it.
# (A node's id is part of its cache key: keep these strings as they are.)
EXAMPLE_GEN_ID = "CsvExampleGen"
STATISTICS_GEN_ID = "StatisticsGen"
SCHEMA_GEN_ID = "ImportSchemaGen"
EXAMPLE_VALIDATOR_ID = "ExampleValidator"
ANOMALIES_GATE_ID = "AnomaliesGate"
NEGATIVE_SAMPLER_ID = "NegativeSampler"
TRANSFORM_ID = "Transform"
TRAINER_ID = "Trainer"
MODEL_RESOLVER_ID = "baseline_model_resolver"
EVALUATOR_ID = "Evaluator"
TOPK_EVALUATOR_ID = "TopKEvaluator"
PUSHER_ID = "Pusher"
BATCH_RECOMMENDER_ID = "BatchRecommender"
# In pipeline order (local_runner.py --stop-after).
COMPONENT_IDS = (EXAMPLE_GEN_ID, STATISTICS_GEN_ID, SCHEMA_GEN_ID,
                 EXAMPLE_VALIDATOR_ID, ANOMALIES_GATE_ID, NEGATIVE_SAMPLER_ID,
                 TRANSFORM_ID, TRAINER_ID, MODEL_RESOLVER_ID, EVALUATOR_ID,
                 TOPK_EVALUATOR_ID, PUSHER_ID, BATCH_RECOMMENDER_ID)

# Dotted paths of the user code. Every runner loads user code the same way:
# from this package, installed in the venv (local) or in the image (Kubeflow).
PREPROCESSING_FN = "trainer_module.preprocessing.preprocessing_fn"
RUN_FN = "trainer_module.trainer.run_fn"
TFMA_EXTRACTORS_MODULE = "trainer_module.tfma_extractors"

# The curated schema ImportSchemaGen loads (shipped as package data).
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema",
                           "schema.pbtxt")

# CsvExampleGen's deterministic hash split: 3 of 4 buckets train, 1 eval
# (the seed notebook splits 75/25).
TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"
TRAIN_HASH_BUCKETS = 3
EVAL_HASH_BUCKETS = 1
# How ratings are split (--split). random: the hash split above, over all
# ratings. user_stratified: each user's ratings split 3:1 by the same
# buckets, seeded by SPLIT_SEED, as Microsoft Recommenders'
# python_stratified_split (every user with 2+ ratings in both splits).
RANDOM_SPLIT = "random"
USER_STRATIFIED_SPLIT = "user_stratified"
SPLITS = (RANDOM_SPLIT, USER_STRATIFIED_SPLIT)
DEFAULT_SPLIT = RANDOM_SPLIT
SPLIT_SEED = 42

# The Trainer's own evaluation (TensorBoard's eval summaries) reads at most
# this many eval batches: every eval row up to ML-1m, a sample beyond it
# (12,000 batches, 13 minutes, for the ranking objective at ML-10m). The
# Evaluator and the TopKEvaluator judge the model on the whole eval split.
TRAINER_EVAL_STEPS = 1000

# What the evaluators compare a new model with (create_pipeline's
# `baseline`): latest_pushed, the model served last for the same objective
# (not the candidate itself, so an unchanged re-run is fully cached, and a
# model blessed but never pushed is judged again and pushed); latest_blessed,
# TFX's LatestBlessedModelStrategy over the TopKEvaluator's blessings, for
# orchestrators that run no custom resolver strategy (Kubeflow v2).
LATEST_PUSHED_BASELINE = "latest_pushed"
LATEST_BLESSED_BASELINE = "latest_blessed"
BASELINES = (LATEST_PUSHED_BASELINE, LATEST_BLESSED_BASELINE)

# Local runner layout under --output-root.
DEFAULT_OUTPUT_ROOT = "outputs"
DEFAULT_DATA_DIR = os.path.join("data", "ml-100k")
# Where the Kubeflow runners write the compiled spec without --output: under
# the default output root (ignored by git), not the current folder.
KUBEFLOW_OUTPUT_DIR = os.path.join(DEFAULT_OUTPUT_ROOT, "kubeflow")


class LocalPaths:
    """Where a local run keeps everything, under one output root; the
    report and recommend commands find a run's metadata store here too."""

    def __init__(self, output_root: str, pipeline_name: str):
        root = os.path.abspath(output_root)
        self.pipeline_root = os.path.join(root, "pipelines", pipeline_name)
        self.metadata_path = os.path.join(root, "metadata", pipeline_name,
                                          "metadata.db")
        self.serving_model_dir = os.path.join(root, "serving_model",
                                              pipeline_name)
        self.log_dir = os.path.join(root, "logs")

    def make_dirs(self) -> None:
        for path in (self.pipeline_root, os.path.dirname(self.metadata_path),
                     self.log_dir):
            os.makedirs(path, exist_ok=True)


# TopKEvaluator gate (settings.TopKGate): recommendations per user, the
# least ndcg@k a model needs, and how much ndcg@k it may lose against the
# baseline. (The TFMA Evaluator's gates are the objectives' own:
# trainer_module/objectives/.) The seed's rating model ranks
# MovieLens-100k's unseen pool at ndcg@10 0.01-0.04 (a regressor on
# ratings does not learn what a user watches; chance is about 0.017), so
# the floor sits below that range.
TOP_K = 10
# 0: the TopKEvaluator ranks every user's unseen pool. n > 0: a sample of n
# users (seeded by SPLIT_SEED), with 95 % intervals: the full pool of ML-10m
# is 746M pairs, of ML-20m 3.7B, out of one machine's reach.
TOPK_SAMPLE_USERS = 0
MIN_NDCG = 0.005
NDCG_TOLERANCE = 0.01

# BatchRecommender: every user's top RECOMMENDATIONS_K unseen movies from the
# model the Pusher served, as a versioned artifact (--recommendations-k; 0
# leaves the component out).
RECOMMENDATIONS_K = 10
# Movie titles: the items file the data command writes beside a dataset
# folder, <parent>/<name>-items.csv (movielens_data.output.items_csv_path,
# which this layer may not import; tests/test_batch_recommender.py ties
# the two).
ITEMS_CSV_SUFFIX = "-items.csv"


def items_csv_path(data_root: str) -> str:
    """The items file beside the data folder `data_root` (a local path or
    a URL: only its string is used)."""
    return data_root.rstrip("/") + ITEMS_CSV_SUFFIX
