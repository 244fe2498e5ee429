#!/usr/bin/env bash
# The run command (make run): set up everything, serve under daphne, start a demo run.
# Embedded default: SQLite + in-memory channel layer. Set DATABASE_URL / REDIS_URL to switch.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt
py=.venv/bin/python
# The demo runs with DEBUG (and its demo SECRET_KEY); the settings' default is off.
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
host="${HOST:-127.0.0.1}"
port="${PORT:-8000}"
# The live-page URL that commands print.
export PROGRESS_SITE_URL="${PROGRESS_SITE_URL:-http://$host:$port}"

$py manage.py preflight
$py manage.py migrate --no-input
$py manage.py seed_demo
$py manage.py collectstatic --no-input -v 0

# Listen backlog: Twisted's default of 50 drops SYNs when every open page reconnects at
# once after a restart (clients then wait 1-3-7 s for TCP retransmits). The kernel caps it
# at net.core.somaxconn. (An IPv6 HOST needs its colons escaped: \:\:1.)
backlog="${LISTEN_BACKLOG:-1024}"
$py -m daphne -e "tcp:port=$port:interface=$host:backlog=$backlog" progressproject.asgi:application &
server=$!
demo=""

# Stopping (Ctrl-C, kill, or the server exiting): first the demo pipeline, with SIGINT so its
# run ends "cancelled" (not stalled) while the server still relays that to open pages; then
# the server. The demo loop runs in its own process group (setsid), so the whole group gets
# the signal; anything of it still there after STOP_GRACE seconds (default 20) is killed, so
# nothing is left running.
stop() {
  trap - EXIT INT TERM
  if [ -n "$demo" ]; then
    kill -INT -- -"$demo" 2>/dev/null || true
    kill -TERM "$demo" 2>/dev/null || true
    for _ in $(seq 1 $((${STOP_GRACE:-20} * 10))); do
      kill -0 -- -"$demo" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- -"$demo" 2>/dev/null || true
  fi
  kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && break
  sleep 0.2
done
echo
echo "Serving on http://$host:$port/progress/  (Ctrl-C stops)"
echo

# A paced demo pipeline (about 20 s) every half minute, in a second process, so an open page
# always has something moving (with the in-memory layer it arrives through the DB relay).
# The loop itself started with SIGINT ignored (a script's background job), so stop() ends it
# with SIGTERM: at once in its pause, or once the pipeline in front of it has cancelled.
setsid bash -c '
  pause=""
  trap "kill \$pause 2>/dev/null; exit 143" TERM
  while kill -0 "$1" 2>/dev/null; do
    "$2" manage.py run_curation_pipeline --scope kidney-genetics --user demo --pace 0.01 --no-bar || true
    sleep 15 & pause=$!
    wait "$pause"
  done' demo-loop "$server" "$py" &
demo=$!
wait "$server"
