#!/usr/bin/env bash
# Creates .venv and installs the project; `install.sh test` adds what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs a Debian package unless the file it provides is already there.
apt_install() {
    local package=$1 provides=$2 sudo=""
    [ -e "$provides" ] && return 0
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "$package"
}

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# torch first and pinned: an unpinned torch pulls a CUDA build of several GB.
.venv/bin/pip install --quiet torch==2.13.0
# PDF briefings are set in DejaVu Sans (Unicode).
apt_install fonts-dejavu-core /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
# Scanned PDF pages are read by Tesseract OCR, with its English model.
apt_install tesseract-ocr /usr/bin/tesseract
apt_install tesseract-ocr-eng /usr/share/tesseract-ocr/5/tessdata/eng.traineddata
if [ "${1:-}" = "test" ]; then
    .venv/bin/pip install --quiet -e '.[test]'
    # The browser tests (tests/test_ui_browser.py) drive Debian's headless Chromium.
    apt_install chromium /usr/bin/chromium
else
    .venv/bin/pip install --quiet -e .
fi
