#!/usr/bin/env bash
# Installs (npm ci, from the pinned package-lock.json) and starts the independent FHIR R4 server
# that valuerx's fhir client is integration-tested against: Medplum's @medplum/fhir-router over its
# MemoryRepository, wrapped by integration/medplum/server.js. Prints the base URL on stdout (the
# only stdout line), writes the pid to a file so the caller can stop it.
#
# Usage:
#   .ci/medplum.sh          install if needed, start (or reuse a running one), print the base URL
#   .ci/medplum.sh stop     stop the server this script started (by the pid in the pid file)
#
# Environment (all optional):
#   VALUERX_MEDPLUM_PORT   listen port on 127.0.0.1 (default 8103)
#   VALUERX_MEDPLUM_TOKEN  bearer token the server requires (default valuerx-medplum-ci-token)
#   VALUERX_MEDPLUM_DIR    where the pid and log files go (default: $TMPDIR or /tmp)
#
# Typical use in .ci/run:
#   export VALUERX_MEDPLUM_TOKEN=valuerx-medplum-ci-token
#   export VALUERX_MEDPLUM_URL="$(.ci/medplum.sh)"
#   go test ./fhir -run Medplum -v
#   .ci/medplum.sh stop
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
app="$root/integration/medplum"
port="${VALUERX_MEDPLUM_PORT:-8103}"
token="${VALUERX_MEDPLUM_TOKEN:-valuerx-medplum-ci-token}"
state="${VALUERX_MEDPLUM_DIR:-${TMPDIR:-/tmp}}"
pidfile="$state/valuerx-medplum-$port.pid"
logfile="$state/valuerx-medplum-$port.log"
base="http://127.0.0.1:$port/fhir/R4"

die() { echo "medplum.sh: $*" >&2; exit 1; }

# running: the pid file names a live process that is our node server.js (so a pid reused by an
# unrelated process after a crash is never signalled).
running() {
  [[ -s "$pidfile" ]] || return 1
  local pid
  pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'server\.js' || return 1
  fi
}

# healthy: the server on $port answers the authenticated probe with this token (so a stale server
# started with another token is not mistaken for ours).
healthy() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
    -H "Authorization: Bearer $token" "$base/Patient?_count=1" 2>/dev/null)" || return 1
  [[ "$code" == 200 ]]
}

if [[ "${1:-}" == stop ]]; then
  if running; then
    pid="$(cat "$pidfile")"
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "medplum.sh: stopped pid $pid" >&2
  fi
  rm -f "$pidfile"
  exit 0
fi

command -v node >/dev/null || die "node not found (Node 20.19+ is required)"
command -v npm >/dev/null || die "npm not found"
command -v curl >/dev/null || die "curl not found"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  die "Node $(node --version) is too old: @medplum/fhir-router 4.5.2 needs ^20.19.0 || >=22.12.0"

if running && healthy; then
  echo "medplum.sh: reusing pid $(cat "$pidfile") on port $port" >&2
  echo "$base"
  exit 0
fi
if running; then
  die "pid $(cat "$pidfile") from $pidfile is alive but $base does not answer; run '$0 stop' first"
fi
rm -f "$pidfile"
if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/healthz"; then
  die "port $port is taken by another process; set VALUERX_MEDPLUM_PORT"
fi

# npm ci only when the lock changed since the last install, so repeated local runs are fast.
stamp="$app/node_modules/.valuerx-lock.sha256"
want="$(sha256sum "$app/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  (cd "$app" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $app"
  echo "$want" >"$stamp"
fi

mkdir -p "$state"
(
  cd "$app"
  PORT="$port" MEDPLUM_TOKEN="$token" exec node server.js >"$logfile" 2>&1
) &
echo $! >"$pidfile"

for _ in $(seq 1 60); do # 60 x 0.5 s = 30 s
  if healthy; then
    echo "medplum.sh: started pid $(cat "$pidfile") on port $port, log $logfile" >&2
    echo "$base"
    exit 0
  fi
  running || { tail -n 20 "$logfile" >&2 || true; rm -f "$pidfile"; die "server exited during start-up"; }
  sleep 0.5
done
tail -n 20 "$logfile" >&2 || true
kill "$(cat "$pidfile")" 2>/dev/null || true
rm -f "$pidfile"
die "server did not answer on $base within 30 s"
