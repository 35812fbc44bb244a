#!/usr/bin/env bash
# Creates (or updates) .venv with the locked stack and this package, editable.
# Idempotent: a second run only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_VERSION=$(cat .python-version)

# uv resolves and installs the TFX stack in seconds (pip's resolver backtracks
# for minutes). It runs from the repo root so that .python-version picks
# pyenv's interpreter instead of downloading one.
if ! command -v uv >/dev/null 2>&1; then
  if command -v pyenv >/dev/null 2>&1; then
    PYENV_VERSION="$PYTHON_VERSION" pyenv exec python -m pip install --quiet uv
    pyenv rehash
  else
    python3 -m pip install --quiet --user uv
    export PATH="$HOME/.local/bin:$PATH"
  fi
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then
  echo "setup: creating .venv with Python $PYTHON_VERSION"
  rm -rf .venv
  uv venv --seed --python "$PYTHON_VERSION" .venv
fi

# What .venv was last set up from: when none of it changed, the installs
# below are skipped (a re-run of the pipeline starts in a fraction of a
# second instead of about three).
STAMP=.venv/.setup-inputs.sha256
inputs_hash() {
  cat .python-version requirements.lock setup.py scripts/setup_env.sh | sha256sum | cut -d' ' -f1
}
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(inputs_hash)" ]; then
  echo "setup: .venv up to date ($(.venv/bin/python --version))"
  exit 0
fi

echo "setup: installing the locked stack (requirements.lock) and this package"
# pip stays in the venv: TFX and Beam may pip-install packages at run time.
uv pip install --quiet --python .venv/bin/python -r requirements.lock pip
uv pip install --quiet --python .venv/bin/python --no-deps -e .

# TFMA's widgets in notebooks/tfma_dashboard.ipynb have a front end only as a
# classic-Notebook extension, which nbclassic serves (docs/results.md, "TFMA
# dashboard"). TFMA's wheel puts its files in .venv/share/jupyter/nbextensions
# (installed again from the package if missing); enabling it writes
# .venv/etc/jupyter/nbconfig/notebook.json. Both steps are idempotent.
nbextension() {  # quiet unless it fails or does not validate
  local out
  if ! out=$(.venv/bin/jupyter nbclassic-extension "$@" 2>&1) || [[ "$out" != *OK* ]]; then
    echo "$out" >&2
    echo "setup: 'jupyter nbclassic-extension $*' failed" >&2
    exit 1
  fi
}
if [ ! -f .venv/share/jupyter/nbextensions/tensorflow_model_analysis/extension.js ]; then
  echo "setup: installing TFMA's notebook extension"
  nbextension install --py --sys-prefix --overwrite tensorflow_model_analysis
fi
nbextension enable --sys-prefix tensorflow_model_analysis/extension

# Bytecode for every installed module, once (uv installs without it). Where
# PYTHONDONTWRITEBYTECODE is set, as on this project's machines, Python would
# otherwise compile TFX, TensorFlow and Beam from source at every start:
# 9 of the 15 s of a cached pipeline re-run. A file that does not compile
# (some packages ship Python 2 examples) is not an error here.
echo "setup: compiling bytecode"
.venv/bin/python -m compileall -q -j 0 .venv/lib/python3.10/site-packages >/dev/null || true
inputs_hash > "$STAMP"
echo "setup: .venv ready ($(.venv/bin/python --version))"
