"""The one TFX pipeline definition, shared by every runner.

It only wires components: every path, Beam argument and hyper-parameter comes
in as an argument, and names and defaults live in configs.py.
"""
import os
from typing import Any, Dict, List, Optional

import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2
# Direct imports, not tfx.v1: tfx.v1 also imports the Google Cloud
# extensions, which would double the start-up time of a cached re-run.
from tfx.components import (CsvExampleGen, Evaluator, ExampleValidator,
                            StatisticsGen, Trainer, Transform)
from tfx.components.schema_gen.import_schema_gen.component import (
    ImportSchemaGen)
from tfx.dsl.components.base.base_node import BaseNode
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2, transform_pb2
from tfx.types import Channel, standard_artifacts

from components.anomalies_gate.component import AnomaliesGate
from components.atomic_pusher import baseline as pushed_baseline
from components.atomic_pusher.component import AtomicPusher
from components.atomic_pusher.executor import (OBJECTIVE_KEY as
                                               PUSH_OBJECTIVE_KEY,
                                               SIGNATURES_KEY)
from components.batch_recommender.component import BatchRecommender
from components.in_process_example_gen.component import (
    InProcessCsvExampleGen)
from components.negative_sampler.component import NegativeSampler
from components.stratified_example_gen.component import (
    StratifiedCsvExampleGen)
# The key of the user-code hash (see fingerprint.py), one for every component.
from components.standard import CODE_FINGERPRINT_KEY, with_fingerprint
from components.topk_evaluator.component import TopKEvaluator
from pipeline import beam_args, configs, fingerprint
from trainer_module import features
from trainer_module.hparams import CUSTOM_CONFIG_KEY, HParams
from trainer_module.preprocessing import OBJECTIVE_KEY


def create_pipeline(
        pipeline_name: str,
        pipeline_root: str,
        data_root: str,
        serving_model_dir: str,
        hparams: HParams,
        max_rmse: float = configs.MAX_RMSE,
        rmse_tolerance: float = configs.RMSE_TOLERANCE,
        top_k: int = configs.TOP_K,
        topk_sample_users: int = configs.TOPK_SAMPLE_USERS,
        min_ndcg: float = configs.MIN_NDCG,
        ndcg_tolerance: float = configs.NDCG_TOLERANCE,
        min_auc: float = configs.MIN_AUC,
        auc_tolerance: float = configs.AUC_TOLERANCE,
        auc_user_fraction: float = configs.AUC_USER_FRACTION,
        recommendations_k: int = configs.RECOMMENDATIONS_K,
        split: str = configs.DEFAULT_SPLIT,
        split_seed: int = configs.SPLIT_SEED,
        beam_pipeline_args: Optional[List[str]] = None,
        metadata_connection_config: Optional[
            metadata_store_pb2.ConnectionConfig] = None,
        schema_path: str = configs.SCHEMA_PATH,
        enable_cache: bool = True,
        stop_after: Optional[str] = None,
        baseline: str = configs.LATEST_PUSHED_BASELINE,
        trainer_vertex_spec: Optional[Dict[str, Any]] = None,
) -> Pipeline:
    """CsvExampleGen -> validation -> Transform -> Trainer -> Evaluators ->
    Pusher -> BatchRecommender.

    With hparams.objective "ranking", the Trainer draws the training
    negatives itself as it reads the ratings (implicit feedback:
    hparams.negatives_per_positive per rating), a NegativeSampler writes
    the eval split's positives and sampled negatives for TFMA
    (configs.EVAL_NEGATIVES_PER_POSITIVE per rating), and the
    evaluators judge a classifier (AUC; ranking metrics only).

    Args:
      data_root: folder of pipeline CSV files (user_id,item_id,rating,...).
      serving_model_dir: where the Pusher writes versioned SavedModels.
      max_rmse, rmse_tolerance: the TFMA Evaluator's blessing thresholds
        (rating objective).
      top_k, min_ndcg, ndcg_tolerance: the TopKEvaluator's; it also requires
        the TFMA blessing, and its blessing gates the Pusher.
      topk_sample_users: > 0, the TopKEvaluator ranks a sample of this many
        users (seeded by split_seed) instead of every user.
      min_auc, auc_tolerance: the TFMA Evaluator's blessing thresholds
        (ranking objective).
      auc_user_fraction: below 1, TFMA's AUC is measured on the eval
        ratings of a seeded sample of about this share of the users.
      recommendations_k: > 0, the BatchRecommender writes every user's
        top this-many movies from the model the Pusher served (titles
        from the items file beside data_root); 0: no BatchRecommender.
      split, split_seed: how CsvExampleGen splits the ratings into train and
        eval (configs.SPLITS); the seed drives the user-stratified split.
      stop_after: a component id: the pipeline holds only that component
        and those it needs (e.g. configs.TRAINER_ID: train and export,
        evaluate and push nothing).
      baseline: what the evaluators compare a new model with (configs.
        BASELINES): the model served last for this objective, or, where
        the orchestrator runs TFX's resolver strategies only (Kubeflow
        v2), the latest model the TopKEvaluator blessed.
      trainer_vertex_spec: the Trainer runs as a Vertex AI training job
        with these custom_config entries (vertex_training.
        trainer_vertex_spec: project, region, worker pools); None: in the
        pipeline's own pod or process.
    """
    ranking = hparams.objective == features.RANKING_OBJECTIVE
    example_gen = example_gen_for(
        split, data_root, split_seed,
        in_process=beam_args.runs_on_this_machine(beam_pipeline_args or [])
    ).with_id(configs.EXAMPLE_GEN_ID)
    statistics_gen = StatisticsGen(
        examples=example_gen.outputs["examples"],
    ).with_id(configs.STATISTICS_GEN_ID)
    schema_gen = with_fingerprint(
        ImportSchemaGen(schema_file=schema_path),
        fingerprint.file_fingerprint(_readable_schema(schema_path)),
    ).with_id(configs.SCHEMA_GEN_ID)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
    ).with_id(configs.EXAMPLE_VALIDATOR_ID)
    anomalies_gate = AnomaliesGate(
        anomalies=example_validator.outputs["anomalies"],
        examples=example_gen.outputs["examples"],
        code_fingerprint=_fingerprint("components.anomalies_gate.component"),
    ).with_id(configs.ANOMALIES_GATE_ID)

    # Transform and the Trainer see the ratings for both objectives (the
    # ranking Trainer samples its negatives as it reads them); TFMA judges
    # a ranking model on the eval ratings with sampled negatives.
    sampler, evaluator_examples = [], example_gen.outputs["examples"]
    if ranking:
        sampler = [NegativeSampler(
            examples=example_gen.outputs["examples"],
            negatives_per_positive=configs.EVAL_NEGATIVES_PER_POSITIVE,
            rounds=0, seed=hparams.random_seed,
            user_fraction=auc_user_fraction,
            code_fingerprint=_fingerprint(
                "components.negative_sampler.executor"),
        ).with_id(configs.NEGATIVE_SAMPLER_ID)]
        sampler[0].add_upstream_node(anomalies_gate)
        evaluator_examples = sampler[0].outputs["sampled_examples"]

    transform = Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=configs.PREPROCESSING_FN,
        splits_config=transform_pb2.SplitsConfig(
            analyze=[configs.TRAIN_SPLIT],
            transform=[configs.TRAIN_SPLIT, configs.EVAL_SPLIT]),
        # StatisticsGen and the gate have checked the raw data already; the
        # pre/post-transform statistics would be a third TFDV pass that
        # nothing reads (a third of Transform's time on MovieLens-100k).
        disable_statistics=True,
        custom_config={
            CODE_FINGERPRINT_KEY: _fingerprint(
                _module_of(configs.PREPROCESSING_FN)),
            OBJECTIVE_KEY: hparams.objective,
        }).with_id(configs.TRANSFORM_ID)
    # Bad data stops the run here, before any vocabulary is computed.
    transform.add_upstream_node(anomalies_gate)

    trainer = trainer_component(
        trainer_vertex_spec,
        run_fn=configs.RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(splits=[configs.TRAIN_SPLIT]),
        eval_args=trainer_pb2.EvalArgs(splits=[configs.EVAL_SPLIT],
                                       num_steps=configs.TRAINER_EVAL_STEPS),
        custom_config={
            CUSTOM_CONFIG_KEY: hparams.to_dict(),
            CODE_FINGERPRINT_KEY: _fingerprint(_module_of(configs.RUN_FN)),
        }).with_id(configs.TRAINER_ID)

    model_resolver = baseline_resolver(
        baseline, hparams.objective, trainer.outputs["model"])

    evaluator = with_fingerprint(Evaluator(
        examples=evaluator_examples,
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        eval_config=(ranking_eval_config(min_auc, auc_tolerance) if ranking
                     else rating_eval_config(max_rmse, rmse_tolerance)),
        module_path=configs.TFMA_EXTRACTORS_MODULE,
    ), _fingerprint(configs.TFMA_EXTRACTORS_MODULE,
                    configs.TFMA_METRICS_MODULE)).with_id(
        configs.EVALUATOR_ID)

    topk_evaluator = TopKEvaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        tfma_blessing=evaluator.outputs["blessing"],
        top_k=top_k,
        min_thresholds={"ndcg@k": min_ndcg},
        # A ranking model's scores are not ratings: no RMSE.
        max_thresholds={} if ranking else {"rmse": max_rmse},
        # RMSE against the baseline is the TFMA Evaluator's change threshold.
        baseline_metrics=("ndcg@k",),
        baseline_tolerance=ndcg_tolerance,
        train_split=configs.TRAIN_SPLIT,
        eval_split=configs.EVAL_SPLIT,
        rating_metrics=not ranking,
        # EASE alone beside popularity: what the ranking model adds to its
        # own EASE feature.
        ease_l2=hparams.ease_l2 if ranking else 0.0,
        sample_users=topk_sample_users, sample_seed=split_seed,
        code_fingerprint=_fingerprint("components.topk_evaluator.executor"),
    ).with_id(configs.TOPK_EVALUATOR_ID)

    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=topk_evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(
                base_directory=serving_model_dir)),
        custom_config={PUSH_OBJECTIVE_KEY: hparams.objective,
                       SIGNATURES_KEY: list(features.SIGNATURES),
                       CODE_FINGERPRINT_KEY: _fingerprint(
                           "components.atomic_pusher.executor")},
    ).with_id(configs.PUSHER_ID)

    # Reads what the Pusher served: no lists when it pushed nothing.
    batch_recommender = [BatchRecommender(
        pushed_model=pusher.outputs["pushed_model"],
        examples=example_gen.outputs["examples"],
        top_k=recommendations_k,
        train_split=configs.TRAIN_SPLIT,
        eval_split=configs.EVAL_SPLIT,
        items_path=configs.items_csv_path(data_root),
        code_fingerprint=_fingerprint("components.batch_recommender.executor"),
    ).with_id(configs.BATCH_RECOMMENDER_ID)] if recommendations_k else []

    components = [example_gen, statistics_gen, schema_gen,
                  example_validator, anomalies_gate, *sampler, transform,
                  trainer, model_resolver, evaluator, topk_evaluator, pusher,
                  *batch_recommender]
    return Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=(upstream_of(components, stop_after) if stop_after
                    else components),
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [])


def trainer_component(vertex_spec: Optional[Dict[str, Any]],
                      **trainer_args: Any) -> Trainer:
    """TFX's Trainer; with vertex_spec, TFX's Google Cloud AI Platform
    Trainer with the same arguments and vertex_spec added to its
    custom_config: it submits a Vertex AI job whose replicas run the same
    executor and run_fn (pipeline/vertex_training.py)."""
    if not vertex_spec:
        return Trainer(**trainer_args)
    # Imported only here: the extension loads the Google Cloud clients.
    from tfx.extensions.google_cloud_ai_platform.trainer.component import (
        Trainer as VertexTrainer)
    return VertexTrainer(**{**trainer_args, "custom_config": {
        **trainer_args.get("custom_config", {}), **vertex_spec}})


def baseline_resolver(baseline: str, objective: str,
                      candidate: Channel) -> Resolver:
    """The node resolving the evaluators' baseline model (configs.BASELINES).
    Both strategies query the store for every Model and for the blessings
    or pushes of this pipeline's own gate."""
    if baseline == configs.LATEST_PUSHED_BASELINE:
        return Resolver(
            strategy_class=pushed_baseline.LatestPushedModelStrategy,
            config={"objective": objective},
            **{pushed_baseline.MODEL_KEY: Channel(
                type=standard_artifacts.Model),
               pushed_baseline.PUSHED_MODEL_KEY: Channel(
                   type=standard_artifacts.PushedModel,
                   producer_component_id=configs.PUSHER_ID,
                   output_key="pushed_model"),
               pushed_baseline.CANDIDATE_KEY: candidate},
        ).with_id(configs.MODEL_RESOLVER_ID)
    if baseline == configs.LATEST_BLESSED_BASELINE:
        return Resolver(
            strategy_class=LatestBlessedModelStrategy,
            model=Channel(type=standard_artifacts.Model),
            model_blessing=Channel(
                type=standard_artifacts.ModelBlessing,
                producer_component_id=configs.TOPK_EVALUATOR_ID,
                output_key="blessing"),
        ).with_id(configs.MODEL_RESOLVER_ID)
    raise ValueError(f"baseline must be one of {list(configs.BASELINES)}, "
                     f"got {baseline!r}")


def _fingerprint(*modules: str) -> str:
    """The hash of the code a component runs: `modules` and what they
    import from this project."""
    return fingerprint.source_fingerprint(modules)


def _module_of(function_path: str) -> str:
    return function_path.rsplit(".", 1)[0]


def _readable_schema(schema_path: str) -> str:
    """The schema file to hash: schema_path, or, when it is a path inside
    the image this machine cannot read (Kubeflow), the package's copy the
    image was built from."""
    return schema_path if os.path.exists(schema_path) else configs.SCHEMA_PATH


def upstream_of(components: List[BaseNode], node_id: str
                ) -> List[BaseNode]:
    """The component `node_id` and every one it needs (through its input
    channels or an explicit dependency), in their order in `components`."""
    by_id = {component.id: component for component in components}
    if node_id not in by_id:
        raise ValueError(f"no component {node_id!r} in this pipeline; it "
                         f"has {', '.join(by_id)}")
    needed, todo = set(), [node_id]
    while todo:
        node = by_id[todo.pop()]
        if node.id not in needed:
            needed.add(node.id)
            todo += [channel.producer_component_id
                     for channel in node.inputs.values()
                     if channel.producer_component_id in by_id]
            todo += [upstream.id for upstream in node.upstream_nodes]
    # The kept nodes forget the dropped ones (explicit dependencies), or
    # the compiler would look for them.
    kept = [component for component in components
            if component.id in needed]
    for component in kept:
        for child in list(component.downstream_nodes):
            if child.id not in needed:
                component.remove_downstream_node(child)
    return kept


def rating_eval_config(max_rmse: float, rmse_tolerance: float
                       ) -> tfma.EvalConfig:
    """TFMA: rating error overall and per genre, gated on overall RMSE."""
    rmse_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(
            upper_bound={"value": max_rmse}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": rmse_tolerance}))
    # The project's three: one combiner for all (trainer_module/tfma_metrics).
    return _eval_config(
        features.LABEL_KEY,
        [tfma.MetricConfig(class_name=name, module=configs.TFMA_METRICS_MODULE)
         for name in ("MeanSquaredError", "MeanAbsoluteError")],
        tfma.MetricConfig(class_name="RootMeanSquaredError",
                          module=configs.TFMA_METRICS_MODULE),
        rmse_threshold)


def ranking_eval_config(min_auc: float, auc_tolerance: float
                        ) -> tfma.EvalConfig:
    """TFMA on the sampled eval split: how well the classifier tells a rated
    movie from a sampled one, overall and per genre, gated on overall AUC."""
    auc_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(
            lower_bound={"value": min_auc}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -auc_tolerance}))
    return _eval_config(
        features.SAMPLED_LABEL_KEY,
        [tfma.MetricConfig(class_name=name)
         for name in ("BinaryAccuracy", "MeanLabel", "MeanPrediction")],
        tfma.MetricConfig(class_name="AUC"), auc_threshold)


def _eval_config(label_key: str, metrics: List[tfma.MetricConfig],
                 gated_metric: tfma.MetricConfig,
                 threshold: tfma.MetricThreshold) -> tfma.EvalConfig:
    """Overall and per-genre slices; example count, `metrics`, and
    `gated_metric` with `threshold` on the overall slice only (a small genre
    may be noisy without the model being worse)."""
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default",
                                    label_key=label_key)],
        slicing_specs=[
            tfma.SlicingSpec(),
            tfma.SlicingSpec(feature_keys=[features.GENRE_SLICE_KEY]),
        ],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            *metrics,
            tfma.MetricConfig(
                class_name=gated_metric.class_name,
                module=gated_metric.module,
                per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                    slicing_specs=[tfma.SlicingSpec()],
                    threshold=threshold)]),
        ])])


def example_gen_for(split: str, data_root: str, split_seed: int,
                    in_process: bool = False) -> CsvExampleGen:
    """The ingestion of `split`: CsvExampleGen's hash split of all ratings,
    or the same CSV reading with each user's ratings split in the buckets'
    proportion (every component downstream sees these splits).

    in_process: CsvExampleGen runs its in-process executor (the same
    examples and splits without Beam's per-row cost), for Beam on the
    component's own machine; else TFX's Beam executor, for a Beam cluster.
    """
    if split == configs.RANDOM_SPLIT:
        if not in_process:
            return CsvExampleGen(input_base=data_root,
                                 output_config=_hash_split_config())
        return with_fingerprint(InProcessCsvExampleGen(
            input_base=data_root, output_config=_hash_split_config()),
            _fingerprint("components.in_process_example_gen.component"))
    if split == configs.USER_STRATIFIED_SPLIT:
        return StratifiedCsvExampleGen(
            input_base=data_root, output_config=_hash_split_config(),
            seed=split_seed, user_key=features.USER_KEY,
            code_fingerprint=_fingerprint(
                "components.stratified_example_gen.executor"))
    raise ValueError(f"split must be one of {list(configs.SPLITS)}, got "
                     f"{split!r}")


def _hash_split_config() -> example_gen_pb2.Output:
    return example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name=configs.TRAIN_SPLIT,
                                    hash_buckets=configs.TRAIN_HASH_BUCKETS),
        example_gen_pb2.SplitConfig.Split(name=configs.EVAL_SPLIT,
                                    hash_buckets=configs.EVAL_HASH_BUCKETS),
    ]))
