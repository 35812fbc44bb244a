# The pipeline image: every Kubeflow / Vertex AI pod and every Dataflow, Flink
# or Spark Beam worker runs it.
#
#   docker build -t REGISTRY/movielens-tfx:TAG .
#   docker push REGISTRY/movielens-tfx:TAG
#
# The base image already holds TFX 1.15.1 with its docker-image extra (kfp,
# kfp-pipeline-spec), TensorFlow, TFT, TFMA, TFDV (pandas), ml-metadata and
# Beam with its worker entrypoint /opt/apache/beam/boot: all this package
# imports. So only the package itself is added, without dependencies, and the
# image's tested set of libraries is left as it is.
FROM tensorflow/tfx:1.15.1

ARG SRC=/build/movielens-tfx
COPY requirements.lock setup.py ${SRC}/
COPY pipeline/ ${SRC}/pipeline/
COPY components/ ${SRC}/components/
COPY recommender/ ${SRC}/recommender/
COPY trainer_module/ ${SRC}/trainer_module/
COPY movielens_features/ ${SRC}/movielens_features/
COPY movielens_data/ ${SRC}/movielens_data/
COPY runtime/ ${SRC}/runtime/
COPY reporting/ ${SRC}/reporting/
RUN pip install --no-cache-dir --no-deps ${SRC}

# From here on, run outside the sources: every import, in these checks and in
# the pods, comes from the installed package.
WORKDIR /

# A direct requirement the base image lacks (none today) is installed at its
# locked version; then the sources go.
RUN missing="$(python -c 'import importlib.metadata as md; \
        from packaging.requirements import Requirement; \
        names = [Requirement(r).name for r in md.requires("movielens-tfx") \
                 if "extra ==" not in r]; \
        key = lambda name: name.lower().replace("_", "-"); \
        installed = {key(d.metadata["Name"]) for d in md.distributions()}; \
        print(" ".join(n for n in names if key(n) not in installed))')" \
    && if [ -n "$missing" ]; then \
        pip install --no-cache-dir -c ${SRC}/requirements.lock $missing; fi \
    && rm -rf /build

# Stop if the image's stack is not the one setup.py pins (and the tests ran
# on); --build-arg ALLOW_PIN_DRIFT=1 builds anyway, printing the drift.
ARG ALLOW_PIN_DRIFT=""
RUN python -c 'import importlib.metadata as md, os, sys; \
        from packaging.requirements import Requirement; \
        reqs = [Requirement(r) for r in md.requires("movielens-tfx") \
                if "extra ==" not in r]; \
        drift = [f"{r.name}: image has {md.version(r.name)}, setup.py " \
                 f"wants {r.specifier}" for r in reqs \
                 if not r.specifier.contains(md.version(r.name), True)]; \
        print("\n".join(drift) or "base image matches the setup.py pins"); \
        sys.exit(1 if drift and not os.environ.get("ALLOW_PIN_DRIFT") else 0)'

# The compiled pipeline names ImportSchemaGen's schema_file by this fixed path
# (pipeline.options.IMAGE_SCHEMA_PATH): a link to the installed package data.
# Then every module a pod or a Beam worker loads must import.
RUN schema="$(python -c 'from pipeline import configs; \
        print(configs.SCHEMA_PATH)')" \
    && test -f "$schema" \
    && mkdir -p /opt/movielens-tfx \
    && ln -s "$schema" /opt/movielens-tfx/schema.pbtxt \
    && python -c 'import components.topk_evaluator.executor, \
        components.anomalies_gate.component, trainer_module.trainer, \
        trainer_module.preprocessing, trainer_module.tfma_extractors, \
        movielens_data, pipeline.pipeline'
