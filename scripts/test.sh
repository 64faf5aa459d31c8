#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine, then runs the whole suite:
# lint, unit (dlcore vs PyTorch), figures, app (AppTest) and e2e (real Chromium).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not e2e"`.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The browser and its fonts (CJK so 中文 renders, emoji for the menu icons) come from Debian;
# Playwright cannot download them here. nginx fronts the replicas in tests/deploy (Debian puts
# it in /usr/sbin, which a non-root PATH may lack).
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' \
  || ! fc-list 2>/dev/null | grep -qi 'Noto Color Emoji' \
  || ! { command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji nginx >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# torch 2.13.0 first: on this kind of machine that is the CPU build, so nothing pulls a CUDA build.
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q "$@"
