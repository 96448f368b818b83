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

# The AWS CLI for the S3 API tests (test/requirements-awscli.txt), in a venv of its own so that its botocore pin
# never moves the worker's.
aws_req="test/requirements-awscli.txt"
aws_stamp=".tools/awscli/.requirements.sha256"
aws_want="$(sha256sum "$aws_req" | cut -d' ' -f1)"
if [ -x .tools/awscli/bin/aws ] && [ -f "$aws_stamp" ] && [ "$(cat "$aws_stamp")" = "$aws_want" ]; then
  echo ".tools/awscli is up to date"
else
  [ -x .tools/awscli/bin/python ] || "$python_bin" -m venv .tools/awscli
  .tools/awscli/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r "$aws_req"
  echo "$aws_want" > "$aws_stamp"
  echo ".tools/awscli ready ($(.tools/awscli/bin/aws --version 2>&1))"
fi

# langchain-runpod for its client test (test/requirements-langchain-runpod.txt), in a venv of its own: it pins an old
# httpx and langchain-core that must not move the worker's.
lc_req="test/requirements-langchain-runpod.txt"
lc_stamp=".tools/langchain-runpod/.requirements.sha256"
lc_want="$(sha256sum "$lc_req" | cut -d' ' -f1)"
if [ -x .tools/langchain-runpod/bin/python ] && [ -f "$lc_stamp" ] && [ "$(cat "$lc_stamp")" = "$lc_want" ]; then
  echo ".tools/langchain-runpod is up to date"
else
  [ -x .tools/langchain-runpod/bin/python ] || "$python_bin" -m venv .tools/langchain-runpod
  .tools/langchain-runpod/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r "$lc_req"
  echo "$lc_want" > "$lc_stamp"
  echo ".tools/langchain-runpod ready"
fi

# boto3 for the outside S3 clients' test (test/requirements-s3-clients.txt), in a venv of its own: the clients are
# tried as users install them, not with the worker's pins.
s3_req="test/requirements-s3-clients.txt"
s3_stamp=".tools/s3clients/.requirements.sha256"
s3_want="$(sha256sum "$s3_req" | cut -d' ' -f1)"
if [ -x .tools/s3clients/bin/python ] && [ -f "$s3_stamp" ] && [ "$(cat "$s3_stamp")" = "$s3_want" ]; then
  echo ".tools/s3clients is up to date"
else
  [ -x .tools/s3clients/bin/python ] || "$python_bin" -m venv .tools/s3clients
  .tools/s3clients/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r "$s3_req"
  echo "$s3_want" > "$s3_stamp"
  echo ".tools/s3clients ready"
fi
