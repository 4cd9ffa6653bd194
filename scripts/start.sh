#!/usr/bin/env bash
# Installs the project into .venv and starts the app on http://127.0.0.1:7860,
# indexing the default library (corpus/ and seeds/) first when there is no index.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/rag serve "$@"
