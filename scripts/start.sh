#!/usr/bin/env bash
# Installs the project into .venv, indexes the default library if needed, and answers a question.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/rag ingest
exec .venv/bin/rag ask "${1:-How much cocaine did the Peruvian police seize near Trujillo in 2014?}"
