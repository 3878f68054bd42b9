#!/usr/bin/env bash
# End-to-end load over loopback: requests/s, p50/p99 latency and the
# server's peak RSS for the variants of examples/load_target.rs and of
# examples/gateway.rs in front of it, as medians and ratios to the first
# variant of each group, printed as markdown tables.
#
# Groups (LOAD_GROUPS, default "ok panic gateway"):
#   ok       GET /ok     bare vs app vs towerhttp (quiet hook)
#   panic    GET /panic  app+quiet hook vs app+std hook vs towerhttp+std hook,
#                        and app+quiet with its log off (RUST_LOG=off), which
#                        shows what the one error line per panic costs
#   gateway  GET /ok     direct to load_target (app, quiet) vs through
#                        examples/gateway.rs
#   proxy-ok GET /ok     nginx (one worker, proxy_pass, a keep-alive pool)
#                        vs examples/gateway.rs (WORKERS=1: one thread),
#                        both in front of load_target (bare)
#   proxy-down GET /     the same two in front of a port where nothing
#                        listens, each with its default settings and its
#                        failure lines in a file; and the example with
#                        RETRIES=0, and also its log off (what the line
#                        per failure costs). The `log lines per failure`
#                        column counts the ERROR lines (nginx's [error]
#                        lines) per non-2xx answer, warm-up included
#
# Within a group the variants alternate, A B C A B C ..., ROUNDS times; each
# run starts a fresh server (so VmHWM is that run's peak), warms it up for
# WARMUP seconds, then measures for DURATION seconds with wrk.
#
# Usage: bash benches/load.sh
# Environment: DURATION (5), WARMUP (1), CONNECTIONS (50), ROUNDS (3),
#   WRK_THREADS (1), LOAD_GROUPS, TOKIO_WORKER_THREADS (the servers'
#   threads; tokio's default is one per core), CARGO_TARGET_DIR.
# Needs root (or wrk and nginx already installed) for `apt-get install`.
# Separate from .ci/run. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-5}
warmup=${WARMUP:-1}
connections=${CONNECTIONS:-50}
rounds=${ROUNDS:-3}
wrk_threads=${WRK_THREADS:-1}
groups=${LOAD_GROUPS:-ok panic gateway proxy-ok proxy-down}
# Each wrk run is killed after this long: the whole script stays bounded
# even if a server hangs.
wrk_limit=$((duration + 30))

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [[ " $groups " == *" proxy-"* ]] && [ ! -x "$nginx_bin" ]; then
  missing+=(nginx-light)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

target_dir=${CARGO_TARGET_DIR:-target}
echo "building examples/load_target.rs and examples/gateway.rs (release)..." >&2
cargo build --release --quiet --example load_target --example gateway
target_bin=$target_dir/release/examples/load_target
gateway_bin=$target_dir/release/examples/gateway

# wrk reports through this script: one RESULT line, latencies in µs.
cat >"$tmp/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.1f %.1f %d %d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
EOF

# start OUT BIN VAR=VALUE...: starts BIN with that environment, stderr to
# /dev/null, and waits for its "listening on ADDR" line. Sets `pid`, `addr`.
start() {
  local out=$1 bin=$2
  shift 2
  # Emptied here: the background job's own redirection may come after the
  # first read below, which would find the last server's address.
  : >"$out"
  env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$@" "$bin" >"$out" 2>/dev/null &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do
    addr=$(sed -n 's/^listening on //p' "$out")
    if [ -n "$addr" ]; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "load.sh: $bin ($*) did not start listening" >&2
  exit 2
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

peak_rss_kb() {
  awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# measure GROUP VARIANT ROUND URL PID [LOG PATTERN]: warm-up, measured
# run, one TSV row; with LOG, the lines of that file matching PATTERN per
# non-2xx answer of both runs.
measure() {
  local group=$1 variant=$2 round=$3 url=$4 server=$5 log=${6:-} pattern=${7:-}
  timeout "$wrk_limit" wrk -t"$wrk_threads" -c"$connections" -d"${warmup}s" \
    --timeout 2s -s "$tmp/report.lua" "$url" >"$tmp/warmup.out"
  timeout "$wrk_limit" wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" \
    --timeout 2s -s "$tmp/report.lua" "$url" >"$tmp/wrk.out"
  local result
  result=$(sed -n 's/^RESULT //p' "$tmp/wrk.out")
  if [ -z "$result" ]; then
    echo "load.sh: no result from wrk for $group/$variant:" >&2
    cat "$tmp/wrk.out" >&2
    exit 2
  fi
  local rss lines=-1
  rss=$(peak_rss_kb "$server")
  if [ -n "$log" ]; then
    sleep 0.5 # the example's log writer and nginx flush
    local failures
    failures=$(( $(sed -n 's/^RESULT //p' "$tmp/warmup.out" | cut -d' ' -f5) + $(cut -d' ' -f5 <<<"$result") ))
    lines=$(awk -v n="$(grep -c -- "$pattern" "$log" || true)" -v f="$failures" \
      'BEGIN { printf "%.3f", f ? n / f : 0 }')
  fi
  # group variant round requests duration_us p50_us p99_us non2xx sockerr rss_kb lines_per_failure
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$group" "$variant" "$round" \
    "$(tr ' ' '\t' <<<"$result")" "$rss" "$lines" >>"$tmp/results.tsv"
  echo "  $group/$variant round $round: $(awk '{ printf "%.0f req/s, p50 %.0f us, p99 %.0f us, non-2xx %d, socket errors %d", $1 / ($2 / 1e6), $3, $4, $5, $6 }' <<<"$result"), VmHWM ${rss} kB" >&2
}

# run_target GROUP VARIANT ROUND PATH ENV...: a fresh load_target, measured.
run_target() {
  local group=$1 variant=$2 round=$3 path=$4
  shift 4
  start "$tmp/server.out" "$target_bin" ADDR=127.0.0.1:0 "$@"
  local server=$pid
  measure "$group" "$variant" "$round" "http://$addr$path" "$server"
  stop "$server"
}

# run_gateway ROUND: a fresh load_target behind a fresh gateway; the
# gateway's RSS is reported.
run_gateway() {
  local round=$1
  start "$tmp/server.out" "$target_bin" ADDR=127.0.0.1:0 VARIANT=app HOOK=quiet
  local server=$pid upstream=$addr
  start "$tmp/gateway.out" "$gateway_bin" GATEWAY_ADDR=127.0.0.1:0 \
    UPSTREAM="http://$upstream"
  local gateway=$pid
  measure gateway gateway "$round" "http://$addr/ok" "$gateway"
  stop "$gateway"
  stop "$server"
}

# run_proxy GROUP VARIANT ROUND UPSTREAM PATH [ENV...]: a fresh nginx or
# example gateway (one worker each) in front of UPSTREAM, measured; its
# failure lines go to a file.
run_proxy() {
  local group=$1 variant=$2 round=$3 upstream=$4 path=$5
  shift 5
  local log=$tmp/$variant.log
  rm -f "$log"
  if [ "${variant%%-*}" = nginx ]; then
    local port
    port=$(free_port)
    mkdir -p "$tmp/nginx"
    cat >"$tmp/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
user root;
pid $tmp/nginx.pid;
error_log $log error;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  upstream backend {
    server $upstream;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
    "$nginx_bin" -c "$tmp/nginx.conf" -e "$log" 2>>"$log" &
    pid=$!
    pids+=("$pid")
    addr=127.0.0.1:$port
    for _ in $(seq 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
      sleep 0.1
    done
    # The worker's RSS, not the master's.
    local worker
    worker=$(pgrep -P "$pid" | head -1 || true)
    measure "$group" "$variant" "$round" "http://$addr$path" "${worker:-$pid}" "$log" "\[error\]"
  else
    : >"$tmp/gateway.out"
    env -u RUST_BACKTRACE WORKERS=1 GATEWAY_ADDR=127.0.0.1:0 \
      UPSTREAM="http://$upstream" "$@" "$gateway_bin" >"$tmp/gateway.out" 2>"$log" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
      addr=$(sed -n 's/^listening on //p' "$tmp/gateway.out")
      if [ -n "$addr" ]; then break; fi
      sleep 0.1
    done
    measure "$group" "$variant" "$round" "http://$addr$path" "$pid" "$log" " ERROR "
  fi
  stop "$pid"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A port where nothing listens: bound, then freed.
down_port=$(free_port)

echo "machine: $(nproc) cores, $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1)," \
  "$(free -h | awk '/^Mem:/ { print $2 }') RAM, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [[ " $groups " == *" proxy-"* ]]; then
  echo "peer: $("$nginx_bin" -v 2>&1)" >&2
fi
echo "wrk -t$wrk_threads -c$connections, ${warmup}s warm-up + ${duration}s measured per run, $rounds rounds" >&2

for round in $(seq "$rounds"); do
  for group in $groups; do
    case $group in
      ok)
        run_target ok bare "$round" /ok VARIANT=bare HOOK=quiet
        run_target ok app "$round" /ok VARIANT=app HOOK=quiet
        run_target ok towerhttp "$round" /ok VARIANT=towerhttp HOOK=quiet
        ;;
      panic)
        run_target panic app+quiet "$round" /panic VARIANT=app HOOK=quiet
        run_target panic app+std "$round" /panic VARIANT=app HOOK=std
        run_target panic towerhttp+std "$round" /panic VARIANT=towerhttp HOOK=std
        run_target panic app+quiet,nolog "$round" /panic VARIANT=app HOOK=quiet RUST_LOG=off
        ;;
      gateway)
        run_target gateway direct "$round" /ok VARIANT=app HOOK=quiet
        run_gateway "$round"
        ;;
      proxy-ok)
        start "$tmp/upstream.out" "$target_bin" ADDR=127.0.0.1:0 VARIANT=bare HOOK=quiet
        upstream_pid=$pid upstream_addr=$addr
        run_proxy proxy-ok nginx "$round" "$upstream_addr" /ok
        run_proxy proxy-ok gateway "$round" "$upstream_addr" /ok
        stop "$upstream_pid"
        ;;
      proxy-down)
        run_proxy proxy-down nginx "$round" "127.0.0.1:$down_port" /
        run_proxy proxy-down gateway "$round" "127.0.0.1:$down_port" /
        run_proxy proxy-down gateway-noretries "$round" "127.0.0.1:$down_port" / RETRIES=0
        run_proxy proxy-down gateway-noretries-nolog "$round" "127.0.0.1:$down_port" / \
          RETRIES=0 RUST_LOG=off
        ;;
      *)
        echo "load.sh: unknown group $group" >&2
        exit 2
        ;;
    esac
  done
done

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$tmp/results.tsv" <<'EOF'
import statistics, sys
from collections import OrderedDict

rows = OrderedDict()
for line in open(sys.argv[1]):
    group, variant, _round, reqs, dur, p50, p99, non2xx, sockerr, rss, lines = line.split("\t")
    rows.setdefault(group, OrderedDict()).setdefault(variant, []).append(
        dict(rps=int(reqs) / (int(dur) / 1e6), p50=float(p50), p99=float(p99),
             rss=int(rss) / 1024, non2xx=int(non2xx) / max(int(reqs), 1),
             sockerr=int(sockerr), lines=float(lines)))

titles = {"ok": "all-ok traffic, GET /ok",
          "panic": "100 % panicking traffic, GET /panic",
          "gateway": "gateway vs direct, GET /ok",
          "proxy-ok": "the proxy hop: nginx vs the example gateway, GET /ok",
          "proxy-down": "upstream down: nginx vs the example gateway, GET /"}
for group, variants in rows.items():
    med = {v: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
           for v, runs in variants.items()}
    first = next(iter(med.values()))
    n = len(next(iter(variants.values())))
    print(f"\n{titles.get(group, group)} (medians of {n} runs; ratio to {next(iter(med))})\n")
    print("| variant | req/s | ratio | req/s min–max | p50 µs | ratio | p99 µs | ratio | peak RSS MiB | ratio | non-2xx | socket errors | log lines per failure |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for v, m in med.items():
        def cell(k, fmt):
            return f"{m[k]:{fmt}} | {m[k] / first[k]:.2f}"
        rps = [r["rps"] for r in variants[v]]
        print(f"| {v} | {cell('rps', '.0f')} | {min(rps):.0f}–{max(rps):.0f} "
              f"| {cell('p50', '.0f')} | {cell('p99', '.0f')} "
              f"| {cell('rss', '.1f')} | {m['non2xx']:.0%} | {m['sockerr']:.0f} "
              f"| {'' if m['lines'] < 0 else format(m['lines'], '.3f')} |")
EOF
