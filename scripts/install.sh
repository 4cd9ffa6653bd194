#!/usr/bin/env bash
# Creates .venv and installs the project; `install.sh test` adds what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# torch first and pinned: an unpinned torch pulls a CUDA build of several GB.
.venv/bin/pip install --quiet torch==2.13.0
# PDF briefings are set in DejaVu Sans (Unicode), from Debian's fonts-dejavu-core
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq fonts-dejavu-core
fi
if [ "${1:-}" = "test" ]; then
    .venv/bin/pip install --quiet -e '.[test]'
    # the browser tests (tests/test_ui_browser.py) drive Debian's headless Chromium
    if [ ! -x /usr/bin/chromium ]; then
        sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium
    fi
else
    .venv/bin/pip install --quiet -e .
fi
