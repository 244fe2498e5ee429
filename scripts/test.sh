#!/usr/bin/env bash
# The test command (make test): lint, then the whole suite against real PostgreSQL and Redis.
# Where DATABASE_URL / REDIS_URL are unset, the local services on 127.0.0.1 are used.
# Under CI=true a test whose service is missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/progress}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
# Pub/sub channels ignore the Redis database number; a per-run prefix keeps this test run
# apart from anything else using the same Redis (a dev server, a benchmark).
export CHANNEL_PREFIX="${CHANNEL_PREFIX:-test$$}"
# Servers the tests start serve the demo, as make run does (DEBUG on, the demo key);
# tests/test_security.py checks the production environment on its own.
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
py=.venv/bin/python

$py -m ruff check .
$py -m ruff format --check .
$py -m mypy progress curation progressproject
$py manage.py check --fail-level WARNING
$py manage.py makemigrations --check --dry-run >/dev/null || {
  echo "error: models changed without a migration; run: .venv/bin/python manage.py makemigrations" >&2
  exit 1
}
# The JS client's state logic (seq ordering, backoff, resync) with Node's own test runner.
node --import ./progress/tests/js/setup.mjs --test progress/tests/js/
# pytest exits 5 when it collects nothing; that must fail too (set -e does it).
$py -m pytest "$@"
