#!/usr/bin/env bash
# Sets up .venv (and headless Chromium, which the report test opens the HTML
# report in) and runs the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup_env.sh
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Debian's chromium for the report test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test: the report test needs headless Chromium: install the 'chromium' package" >&2
    exit 2
  fi
fi
exec .venv/bin/python -m pytest tests "$@"
