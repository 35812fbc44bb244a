"""The one TFX pipeline definition, shared by every runner.

It only wires components: every path, Beam argument and hyper-parameter comes
in as an argument, and names and defaults live in configs.py.
"""
import os
from typing import Any, Dict, List, Optional

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
from pipeline.settings import Gates, PipelinePaths, Runtime, Split
import movielens_features as features
from trainer_module import objectives, tfma_metrics
from trainer_module.hparams import CUSTOM_CONFIG_KEY, HParams
from trainer_module.preprocessing import OBJECTIVE_KEY


def create_pipeline(
        pipeline_name: str,
        paths: PipelinePaths,
        hparams: HParams,
        gates: Optional[Gates] = None,
        split: Split = Split(),
        recommendations_k: int = configs.RECOMMENDATIONS_K,
        runtime: Runtime = Runtime(),
) -> Pipeline:
    """CsvExampleGen -> validation -> Transform -> Trainer -> Evaluators ->
    Pusher -> BatchRecommender.

    What differs per training objective (hparams.objective) comes from its
    module (trainer_module/objectives/): the ranking Trainer draws its
    training negatives itself as it reads the ratings, and a NegativeSampler
    adds the objective's eval negatives for TFMA; TFMA's metrics and gate
    are the objective's.

    Args:
      paths: where the data is read and everything is written.
      hparams: the objective and its model (objectives.get(name).
        default_hparams() unless told otherwise).
      gates: both evaluators' blessings; None: the objective's defaults.
      split: how the ratings are split into train and eval.
      recommendations_k: > 0, the BatchRecommender writes every user's
        top this-many movies from the model the Pusher served (titles
        from the items file beside paths.data_root); 0: no
        BatchRecommender.
      runtime: Beam, metadata, caching, partial runs, the baseline
        resolver and where the Trainer runs.
    """
    objective = objectives.get(hparams.objective)
    gates = gates or Gates.defaults_for(objective.name)
    objective.check_gate(gates.tfma)
    beam_pipeline_args = list(runtime.beam_pipeline_args)
    example_gen = example_gen_for(
        split, paths.data_root,
        in_process=beam_args.runs_on_this_machine(beam_pipeline_args),
    ).with_id(configs.EXAMPLE_GEN_ID)
    statistics_gen = StatisticsGen(
        examples=example_gen.outputs["examples"],
    ).with_id(configs.STATISTICS_GEN_ID)
    schema_gen = with_fingerprint(
        ImportSchemaGen(schema_file=paths.schema_path),
        fingerprint.file_fingerprint(_readable_schema(paths.schema_path)),
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
    if objective.eval_negatives_per_positive:
        sampler = [eval_negative_sampler(
            example_gen.outputs["examples"], objective, gates.tfma,
            hparams.random_seed)]
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
            OBJECTIVE_KEY: objective.name,
        }).with_id(configs.TRANSFORM_ID)
    # Bad data stops the run here, before any vocabulary is computed.
    transform.add_upstream_node(anomalies_gate)

    trainer = trainer_component(
        runtime.trainer_vertex_spec,
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
        runtime.baseline, objective.name, trainer.outputs["model"])

    evaluator = with_fingerprint(Evaluator(
        examples=evaluator_examples,
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        eval_config=objective.eval_config(gates.tfma),
        module_path=configs.TFMA_EXTRACTORS_MODULE,
    ), _fingerprint(configs.TFMA_EXTRACTORS_MODULE,
                    tfma_metrics.__name__)).with_id(
        configs.EVALUATOR_ID)

    topk_evaluator = TopKEvaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        # TFMA's blessing is one of its checks; its failed validations
        # say why a model was refused (the RMSE or AUC gate is TFMA's).
        tfma_blessing=evaluator.outputs["blessing"],
        tfma_evaluation=evaluator.outputs["evaluation"],
        top_k=gates.topk.k,
        min_thresholds={"ndcg@k": gates.topk.min_ndcg},
        max_thresholds={},
        baseline_metrics=("ndcg@k",),
        baseline_tolerance=gates.topk.ndcg_tolerance,
        train_split=configs.TRAIN_SPLIT,
        eval_split=configs.EVAL_SPLIT,
        rating_metrics=objective.scores_are_ratings,
        # EASE alone beside popularity: the reference a ranking model has
        # to beat.
        ease_l2=hparams.ease_l2 if objective.ease_reference else 0.0,
        sample_users=gates.topk.sample_users, sample_seed=split.seed,
        code_fingerprint=_fingerprint("components.topk_evaluator.executor"),
    ).with_id(configs.TOPK_EVALUATOR_ID)

    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=topk_evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(
                base_directory=paths.serving_model_dir)),
        custom_config={PUSH_OBJECTIVE_KEY: objective.name,
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
        items_path=configs.items_csv_path(paths.data_root),
        code_fingerprint=_fingerprint("components.batch_recommender.executor"),
    ).with_id(configs.BATCH_RECOMMENDER_ID)] if recommendations_k else []

    components = [example_gen, statistics_gen, schema_gen,
                  example_validator, anomalies_gate, *sampler, transform,
                  trainer, model_resolver, evaluator, topk_evaluator, pusher,
                  *batch_recommender]
    return Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=paths.pipeline_root,
        components=(upstream_of(components, runtime.stop_after)
                    if runtime.stop_after else components),
        enable_cache=runtime.enable_cache,
        metadata_connection_config=runtime.metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args)


def eval_negative_sampler(examples: Channel, objective: objectives.Objective,
                          gate: Any, seed: int) -> NegativeSampler:
    """The NegativeSampler writing the eval split TFMA judges `objective`
    on: each eval rating with the objective's sampled negatives, for about
    gate.auc_user_fraction of the users."""
    return NegativeSampler(
        examples=examples,
        negatives_per_positive=objective.eval_negatives_per_positive,
        seed=seed, user_fraction=gate.auc_user_fraction,
        code_fingerprint=_fingerprint("components.negative_sampler.executor"),
    ).with_id(configs.NEGATIVE_SAMPLER_ID)


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


def example_gen_for(split: Split, data_root: str,
                    in_process: bool = False) -> CsvExampleGen:
    """The ingestion of `split`: CsvExampleGen's hash split of all ratings,
    or the same CSV reading with each user's ratings split in the buckets'
    proportion (every component downstream sees these splits).

    in_process: CsvExampleGen runs its in-process executor (the same
    examples and splits without Beam's per-row cost), for Beam on the
    component's own machine; else TFX's Beam executor, for a Beam cluster.
    """
    if split.kind == configs.RANDOM_SPLIT:
        if not in_process:
            return CsvExampleGen(input_base=data_root,
                                 output_config=_hash_split_config())
        return with_fingerprint(InProcessCsvExampleGen(
            input_base=data_root, output_config=_hash_split_config()),
            _fingerprint("components.in_process_example_gen.component"))
    if split.kind == configs.USER_STRATIFIED_SPLIT:
        return StratifiedCsvExampleGen(
            input_base=data_root, output_config=_hash_split_config(),
            seed=split.seed, user_key=features.USER_KEY,
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
