"""create_pipeline's grouped arguments: ready-made settings, as TFX's taxi
template passes ready-made configs, so a runner states what it changes and
takes the rest from the defaults here and in configs.py."""
import dataclasses
from typing import Any, Dict, Optional, Tuple

from ml_metadata.proto import metadata_store_pb2

from pipeline import configs
from trainer_module import objectives


@dataclasses.dataclass(frozen=True)
class PipelinePaths:
    """Where the data is read and everything is written, as the component
    runs see them (a pod's paths on Kubeflow)."""
    pipeline_root: str
    # Folder of pipeline CSV files (user_id,item_id,rating,...).
    data_root: str
    # Where the Pusher writes versioned SavedModels.
    serving_model_dir: str
    # The curated schema ImportSchemaGen loads.
    schema_path: str = configs.SCHEMA_PATH


@dataclasses.dataclass(frozen=True)
class Split:
    """How CsvExampleGen splits the ratings into train and eval
    (configs.SPLITS); the seed drives the user-stratified split and the
    TopKEvaluator's user sample."""
    kind: str = configs.DEFAULT_SPLIT
    seed: int = configs.SPLIT_SEED


@dataclasses.dataclass(frozen=True)
class TopKGate:
    """The TopKEvaluator's blessing, which gates the Pusher: ndcg@k at least
    min_ndcg and at most ndcg_tolerance below the baseline's; it also needs
    the TFMA blessing. sample_users > 0: rank a seeded sample of that many
    users instead of every user."""
    k: int = configs.TOP_K
    min_ndcg: float = configs.MIN_NDCG
    ndcg_tolerance: float = configs.NDCG_TOLERANCE
    sample_users: int = configs.TOPK_SAMPLE_USERS


@dataclasses.dataclass(frozen=True)
class Gates:
    """Both evaluators' blessings: `tfma`, the objective's own Gate
    (objectives.<name>.Gate), and the TopKEvaluator's."""
    tfma: Any
    topk: TopKGate = TopKGate()

    @classmethod
    def defaults_for(cls, objective: str) -> "Gates":
        return cls(tfma=objectives.get(objective).Gate())


@dataclasses.dataclass(frozen=True)
class Runtime:
    """What the runner and orchestrator decide: Beam, metadata, caching,
    how much of the pipeline runs and where the Trainer runs."""
    beam_pipeline_args: Tuple[str, ...] = ()
    # None: the orchestrator's own store (Kubeflow).
    metadata_connection_config: Optional[
        metadata_store_pb2.ConnectionConfig] = None
    enable_cache: bool = True
    # A component id: the pipeline holds only that component and those it
    # needs (e.g. configs.TRAINER_ID: train and export, push nothing).
    stop_after: Optional[str] = None
    # What the evaluators compare a new model with (configs.BASELINES): the
    # model served last for this objective, or, where the orchestrator runs
    # TFX's resolver strategies only (Kubeflow v2), the latest model the
    # TopKEvaluator blessed.
    baseline: str = configs.LATEST_PUSHED_BASELINE
    # The Trainer runs as a Vertex AI training job with these custom_config
    # entries (vertex_training.trainer_vertex_spec); None: in the pipeline's
    # own pod or process.
    trainer_vertex_spec: Optional[Dict[str, Any]] = None
