"""movielens-tfx: a TFX pipeline that trains a wide-and-deep movie recommender.

The exact versions every machine installs are in requirements.lock (generated
from the pins below with `uv pip compile setup.py`); scripts/setup_env.sh
installs that lock, then this package in editable mode.
"""
import setuptools

# The decided stack (docs/architecture.md, "Stack"): TFX 1.15 is the newest
# TFX whose ml-metadata wheels run on glibc 2.36, and TF 2.15 is the last TF
# with tf.estimator.
INSTALL_REQUIRES = [
    "tfx[kfp]==1.15.1",
    "tensorflow==2.15.1",
    "tensorflow-estimator==2.15.0",
    "tensorflow-transform==1.15.0",
    "tensorflow-model-analysis==0.46.0",
    # Beam > 2.53 no longer installs dill, which TFT 1.15 imports.
    "apache-beam[gcp]==2.53.0",
    "pandas",
    # Sparse item-item statistics (EASE, co-occurrence); tfx pins it too.
    "scipy",
    # Plots of the HTML run report.
    "matplotlib",
    # kfp 1.8, tensorboard and tensorflow_hub import pkg_resources, which
    # setuptools removed in release 81.
    "setuptools<81",
]

# notebooks/tfma_dashboard.ipynb, not the pipeline (so not the image, whose
# checks skip extras). The test extra, which requirements.lock is compiled
# with, includes it: tests/test_notebook.py opens the notebook in nbclassic.
NOTEBOOK_REQUIRES = [
    # The classic Notebook front end: TFMA 0.46's widgets (ipywidgets 7) ship
    # only as a classic nbextension, which Notebook 7 and JupyterLab 4 cannot
    # load. nbclassic 1.x runs beside Notebook 7 on the same jupyter_server
    # (`jupyter nbclassic`).
    "nbclassic>=1.0",
    # widgetsnbextension 3.6.7+ (ipywidgets 7.8.2+) is compiled to ES2017
    # classes, whose static methods Backbone's .extend, which TFMA's widget
    # models use, does not copy: the classic front end then fails with
    # "_deserialize_state is not a function". 3.6.6 is the last ES5 build.
    "widgetsnbextension<3.6.7",
]

TEST_REQUIRES = [
    "pytest",
    # tests/test_notebook.py drives headless Chromium with it, through
    # Debian's chromedriver (scripts/test.sh installs chromium-driver).
    "selenium",
]

setuptools.setup(
    name="movielens-tfx",
    version="0.1.0",
    description="TFX pipeline for a wide-and-deep MovieLens recommender",
    python_requires=">=3.10,<3.11",
    packages=setuptools.find_packages(
        include=["pipeline", "pipeline.*", "components", "components.*",
                 "trainer_module", "trainer_module.*", "movielens_features",
                 "movielens_data", "movielens_data.*",
                 "recommender", "recommender.*", "runtime", "runtime.*",
                 "reporting", "reporting.*"]),
    package_data={"pipeline": ["schema/*.pbtxt"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={"notebook": NOTEBOOK_REQUIRES,
                    "test": [*TEST_REQUIRES, *NOTEBOOK_REQUIRES]},
)
