#!/usr/bin/env bash
# Install Cookbook into ./.venv (building the front end with Node) and start JupyterLab with it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q .
args=()
[ "$(id -u)" = 0 ] && args+=(--allow-root)   # JupyterLab refuses root without it (containers, CI)
exec .venv/bin/jupyter lab "${args[@]}" "$@"
