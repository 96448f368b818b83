#!/usr/bin/env bash
# Creates .venv/ at the repo root with the worker's test dependencies (handler/requirements-dev.txt), and
# .tools/awscli with the AWS CLI for the S3 API tests (test/requirements-awscli.txt), .tools/langchain-runpod and
# .tools/s3clients (boto3) for the outside clients' tests.
# Idempotent and quick when done: a stamp holding the requirements' hash skips pip when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-python3}"
req="handler/requirements-dev.txt"
stamp=".venv/.requirements-dev.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo ".venv is up to date ($(.venv/bin/python --version))"
else
  if [ ! -x .venv/bin/python ]; then
    "$python_bin" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r "$req"
  echo "$want" > "$stamp"
  echo ".venv ready ($(.venv/bin/python --version))"
fi

# A venv of its own under .tools/<name> for one outside client's test, so that its pins never move the worker's (or
# another client's); skipped while its stamp holds the requirements' hash.
tool_venv() { # <name> <requirements file>
  local dir=".tools/$1" req="$2" stamp want
  stamp="$dir/.requirements.sha256"
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$dir is up to date"
    return
  fi
  [ -x "$dir/bin/python" ] || "$python_bin" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req"
  echo "$want" > "$stamp"
  echo "$dir ready"
}

# The AWS CLI for the S3 API tests (its botocore pin never moves the worker's).
tool_venv awscli test/requirements-awscli.txt
# langchain-runpod for its client test: it pins an old httpx and langchain-core.
tool_venv langchain-runpod test/requirements-langchain-runpod.txt
# boto3 for the outside S3 clients' test: the clients are tried as users install them.
tool_venv s3clients test/requirements-s3-clients.txt
