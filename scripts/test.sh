#!/usr/bin/env bash
# Install what the tests need and run every test: TypeScript (jest), browser (Galata on Debian's
# Chromium), then Python (pytest, with Debian's PostgreSQL for the store tests). Works on a fresh
# machine with Python 3.10+, Node 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Chromium (Debian) for the browser tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# The store tests also run against a real PostgreSQL server, which scripts/pg.sh starts and stops.
if ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  echo "== installing PostgreSQL (Debian) for the store tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

echo "== Python environment"
[ -x .venv/bin/python ] || python3 -m venv .venv
export PATH="$ROOT/.venv/bin:$PATH"
python -m pip install -q --upgrade pip
# The editable install runs `npm install` and the front-end build through hatch-jupyter-builder.
python -m pip install -q -e ".[test]"
# A provider plug-in packaged on its own, as a third party ships one: the registry tests find it.
python -m pip install -q ./tests/plugin_provider
jupyter labextension develop --overwrite . >/dev/null
jupyter server extension enable cookbook_ext --sys-prefix >/dev/null

echo "== lint"
ruff check cookbook_ext tests bench
mypy cookbook_ext

echo "== TypeScript (jest)"
npm test --silent

echo "== browser (Galata)"
(cd ui-tests && npm install --no-audit --no-fund --loglevel=error && npx playwright test --grep-invert @bench)

echo "== Python (pytest)"
# configurable-http-proxy for the JupyterHub deployment test
npm ci --prefix tests/hub --no-audit --no-fund --loglevel=error
# A throwaway PostgreSQL server for the store tests (COOKBOOK_TEST_PG_URL), stopped on exit.
bash scripts/pg.sh python -m pytest "$@"
