#!/usr/bin/env bash
# Sets up .venv (and headless Chromium, which the report test opens the HTML
# report in, with the chromedriver the notebook test drives it through) and
# runs the tests. Extra arguments go to pytest: a test file or folder runs
# only that (./scripts/test.sh tests/test_catalog.py); with none, pytest.ini's
# testpaths (tests/) is the whole suite, filtered by options such as -k.
# `-m "not e2e"` runs the fast tests alone (about 1.5 min): no model
# trained, no pipeline, cluster path or notebook server (docs/tests.md);
# `-m e2e` runs the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup_env.sh
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Debian's ${missing[*]} for the report and notebook tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test: the report and notebook tests need headless Chromium and its driver: install the Debian packages ${missing[*]}" >&2
    exit 2
  fi
fi
# No `tests` here: pytest would run it besides any path given.
exec .venv/bin/python -m pytest "$@"
