"""movielens-tfx: a TFX pipeline that trains a wide-and-deep movie recommender.

The exact versions every machine installs are in requirements.lock (generated
from the pins below with `uv pip compile setup.py`); scripts/setup_env.sh
installs that lock, then this package in editable mode.
"""
import setuptools

# The decided stack (see README "Stack"): TFX 1.15 is the newest TFX whose
# ml-metadata wheels run on glibc 2.36, and TF 2.15 is the last TF with
# tf.estimator.
INSTALL_REQUIRES = [
    "tfx[kfp]==1.15.1",
    "tensorflow==2.15.1",
    "tensorflow-estimator==2.15.0",
    "tensorflow-transform==1.15.0",
    "tensorflow-model-analysis==0.46.0",
    # Beam > 2.53 no longer installs dill, which TFT 1.15 imports.
    "apache-beam[gcp]==2.53.0",
    "pandas",
    # Plots of the HTML run report.
    "matplotlib",
    # kfp 1.8, tensorboard and tensorflow_hub import pkg_resources, which
    # setuptools removed in release 81.
    "setuptools<81",
]

setuptools.setup(
    name="movielens-tfx",
    version="0.1.0",
    description="TFX pipeline for a wide-and-deep MovieLens recommender",
    python_requires=">=3.10,<3.11",
    packages=setuptools.find_packages(
        include=["pipeline", "pipeline.*", "components", "components.*",
                 "trainer_module", "trainer_module.*",
                 "movielens_data", "movielens_data.*",
                 "reporting", "reporting.*"]),
    package_data={"pipeline": ["schema/*.pbtxt"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": ["pytest"]},
)
