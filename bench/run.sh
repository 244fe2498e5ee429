#!/usr/bin/env bash
# The benchmark suite, one command: bench/run.sh [suite options, e.g. --only 1,2 --with-2000]
#
# Creates bench/.venv-bench (from the project's .venv Python; app requirements plus the
# bench-only pins in bench/requirements.txt), makes sure PostgreSQL and Redis are up (the
# same commands as .ci/run), recreates the `progress_bench` database, migrates it and runs
# bench/suite.py, which prints the table and writes bench/results/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

# --- services (same as .ci/run) ---------------------------------------------------------
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "Starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
for _ in $(seq 1 50); do
  pg_isready -h 127.0.0.1 -p 5432 -q && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
  sleep 0.2
done

# --- the bench venv -----------------------------------------------------------------------
[ -x .venv/bin/python ] || scripts/bootstrap.sh requirements.txt
venv=bench/.venv-bench
stamp="$venv/.installed"
hash="$(cat requirements.txt bench/requirements.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
  echo "Creating $venv"
  .venv/bin/python -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
  echo "Installing requirements into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r requirements.txt -r bench/requirements.txt
  echo "$hash" > "$stamp"
fi

# --- the bench database and Redis databases -------------------------------------------------
# Redis db 2 (channel layer) and db 3 (celery-progress result backend) belong to the bench
# alone: db 0 is what `make test` uses, possibly at the same time on this machine.
export DJANGO_SETTINGS_MODULE=progressproject.settings
export DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/progress_bench}"
export REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/2}"
export BENCH_CELERY_BACKEND="${BENCH_CELERY_BACKEND:-redis://127.0.0.1:6379/3}"
# Pub/sub channels ignore the database number: the prefix keeps the bench's apart.
export CHANNEL_PREFIX="${CHANNEL_PREFIX:-bench}"
export TASKS_BACKEND=db DJANGO_DEBUG=false DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost
# DEBUG off needs a real secret (daphne refuses to serve without one): one per run.
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-bench-$(head -c 32 /dev/urandom | sha256sum | cut -c1-48)}"
export PROGRESS_LOG_LEVEL=WARNING
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"

db="${DATABASE_URL##*/}"
psql -q -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid();
DROP DATABASE IF EXISTS $db;
CREATE DATABASE $db;
SQL
redis-cli -u "$REDIS_URL" flushdb >/dev/null
redis-cli -u "$BENCH_CELERY_BACKEND" flushdb >/dev/null
"$venv/bin/python" manage.py migrate --noinput -v 0

mkdir -p bench/results
exec "$venv/bin/python" bench/suite.py "$@"
