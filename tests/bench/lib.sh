# Shared helpers for the benchmarks (sourced).  Starts a private wgmd on a
# free loopback port with its own state, logs in as admin and turns rate
# limiting off through the API (and raises api_rate_limit, the ceiling of an
# API key's own limit), so the figures measure serving rather than
# 429s (a raised limit refills at its new rate; it does not refill at once).
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PREFIX=${WGM_PREFIX:-$ROOT/_inst}
BENCH_PASSWORD='Bench-Passw0rd!x'

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
json_field() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d[sys.argv[1]])' "$1"; }

# start_wgmd WORKDIR [PLUGIN...]: sets WGM_PID and BASE (http://127.0.0.1:PORT/api/v1)
# and TOKEN.  The named plugins (e.g. monitor) are copied from the prefix;
# extra configuration can be put in WORKDIR/conf.d/ beforehand.
start_wgmd() {
  local work=$1 port p
  shift
  mkdir -p "$work/plugins" "$work/conf.d"
  for p in "$@"; do cp "$PREFIX/lib/wgm/plugins/$p.so" "$work/plugins/"; done
  port=$(free_port)
  printf '[http]\nlisten = 127.0.0.1:%s\nthreads = 4\n[log]\naccess_log = no\nlevel = warn\n' "$port" >"$work/wgm.conf"
  WGM_ADMIN_PASSWORD="$BENCH_PASSWORD" WGM_STATE_DIR="$work/state" WGM_PLUGIN_DIR="$work/plugins" \
    "$PREFIX/sbin/wgmd" -c "$work/wgm.conf" 2>"$work/wgmd.log" &
  WGM_PID=$!
  BASE="http://127.0.0.1:$port/api/v1"
  wait_http "$BASE/version"
  TOKEN=$(curl -s -X POST -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$BENCH_PASSWORD\"}" "$BASE/auth/login" | json_field access_token)
  curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"security":{"enable_rate_limiting":false},"session_timeout":86400,"api_rate_limit":1000000}' "$BASE/system/config"
}

# measure NAME URL [HEADER]: prints "name req/s p99" to stderr, req/s to stdout.
measure() {
  local out rps p99 non2xx
  if [ -n "${3:-}" ]; then
    out=$(wrk -t"${BENCH_THREADS:-2}" -c"${BENCH_CONNECTIONS:-64}" -d"${BENCH_SECONDS:-10}s" --latency -H "$3" "$2")
  else
    out=$(wrk -t"${BENCH_THREADS:-2}" -c"${BENCH_CONNECTIONS:-64}" -d"${BENCH_SECONDS:-10}s" --latency "$2")
  fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  printf '%-34s %12s req/s   p99 %-9s%s\n' "$1" "$rps" "$p99" "${non2xx:+  (non-2xx: $non2xx)}" >&2
  echo "$rps"
}
