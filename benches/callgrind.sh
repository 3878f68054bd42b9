#!/usr/bin/env bash
# Instructions and heap allocations per request for each row of
# benches/instructions.rs, and the bounds the app and gateway layers have
# to keep: musts ("budget", PASS/FAIL) and aims ("target", reported).
#
# Each row runs under callgrind twice, SHORT and LONG requests; the
# difference of the two instruction totals divided by LONG - SHORT is the
# cost of one request, with start-up, set-up and warm-up cancelled out.
# Allocations per request come from the bench's own counting allocator
# (`-- --allocs`).
#
# Usage: bash benches/callgrind.sh
# Environment: SHORT_ITERS (default 1000), LONG_ITERS (default 11000),
#   CALLGRIND_OUT_DIR (keep the callgrind.out files there, for
#   callgrind_annotate), CARGO_TARGET_DIR (as for any cargo command).
# Exits 1 if a budget fails; "target" lines are reported, never fail.
set -euo pipefail
cd "$(dirname "$0")/.."

short=${SHORT_ITERS:-1000}
long=${LONG_ITERS:-11000}

if ! command -v valgrind >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq valgrind
fi

echo "building the bench binary..." >&2
bin=$(cargo bench --bench instructions --no-run --message-format=json |
  python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "instructions" and msg.get("executable"):
        print(msg["executable"])
')
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "callgrind.sh: could not find the bench binary" >&2
  exit 2
fi

if [ -n "${CALLGRIND_OUT_DIR:-}" ]; then
  out_dir=$CALLGRIND_OUT_DIR
  mkdir -p "$out_dir"
else
  out_dir=$(mktemp -d)
  trap 'rm -rf "$out_dir"' EXIT
fi

# Total instructions of `bin row iters` under callgrind.
instructions() {
  local row=$1 iters=$2
  local out="$out_dir/callgrind.out.$row.$iters"
  if ! valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$bin" "$row" "$iters" >"$out.log" 2>&1; then
    echo "callgrind.sh: $row $iters failed:" >&2
    cat "$out.log" >&2
    exit 2
  fi
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

declare -A ir allocs
rows=$("$bin")
for row in $rows; do
  echo "callgrind: $row ($short and $long requests)..." >&2
  a=$(instructions "$row" "$short")
  b=$(instructions "$row" "$long")
  ir[$row]=$(awk -v a="$a" -v b="$b" -v s="$short" -v l="$long" \
    'BEGIN { printf "%.1f", (b - a) / (l - s) }')
done
while IFS=$'\t' read -r row per_request; do
  allocs[$row]=$per_request
done < <("$bin" --allocs)

# The anchor each row is compared with (ratio and delta columns).
declare -A anchor=(
  [app_ok_nocapture]=towerhttp_ok
  [app_ok_lean]=towerhttp_ok
  [app_ok]=towerhttp_ok
  [app_ok_all_errors]=app_ok
  [app_not_found]=app_ok_all_errors
  [app_error]=app_ok
  [app_panic]=raw_catch_unwind
  [app_body_panic]=raw_catch_unwind
  [towerhttp_ok]=bare
  [towerhttp_panic]=raw_catch_unwind
  [raw_catch_unwind]=bare
  [minimal_catch_unwind_ok]=bare
  [minimal_catch_unwind_method_ok]=bare
  [minimal_catch_unwind_panic]=raw_catch_unwind
  [axum_ok]=bare
  [axum_json_problem]=axum_ok
  [axum_timeout]=axum_ok
  [floor_timeout_map_result]=bare
  [floor_pending]=bare
  [gateway_ok_ready]=floor_timeout_map_result
  [gateway_ok_nocapture]=floor_timeout_map_result
  [gateway_ok_pending]=floor_pending
  [gateway_ok_idle_timeout]=floor_timeout_map_result
  [gateway_error_dns_error]=gateway_ok_ready
  [gateway_error_connection_refused]=gateway_ok_ready
  [gateway_error_destination_ip_unroutable]=gateway_ok_ready
  [gateway_error_connection_timeout]=gateway_ok_ready
  [gateway_error_connection_terminated]=gateway_ok_ready
  [gateway_error_http_response_incomplete]=gateway_ok_ready
  [gateway_error_http_protocol_error]=gateway_ok_ready
  [gateway_error_http_response_header_section_size]=gateway_ok_ready
  [gateway_error_connection_limit_reached]=gateway_ok_ready
  [gateway_error_proxy_internal_error]=gateway_ok_ready
  [floor_timeout_elapsed]=floor_pending
  [gateway_error_http_response_timeout]=floor_timeout_elapsed
)

echo
echo "instructions per request: (Ir($long) - Ir($short)) / $((long - short)), callgrind;"
echo "ratio and delta: to the row's anchor; allocs: heap allocations per request"
printf '| %-47s | %9s | %8s | %-26s | %5s | %8s | %6s |\n' \
  row instr/req "vs bare" anchor ratio "vs anch." allocs
printf '|%s|%s:|%s:|%s|%s:|%s:|%s:|\n' \
  -------------------------------------------------  ---------- --------- \
  ---------------------------- ------ --------- -------
for row in $rows; do
  a=${anchor[$row]:-}
  if [ -n "$a" ]; then
    ratio=$(awk -v x="${ir[$row]}" -v y="${ir[$a]}" 'BEGIN { printf "%.2f", x / y }')
    vs_anchor=$(awk -v x="${ir[$row]}" -v y="${ir[$a]}" 'BEGIN { printf "%+.0f", x - y }')
  else
    a=- ratio=- vs_anchor=-
  fi
  printf '| %-47s | %9s | %8s | %-26s | %5s | %8s | %6s |\n' "$row" "${ir[$row]}" \
    "$(awk -v x="${ir[$row]}" -v b="${ir[bare]}" 'BEGIN { printf "%+.0f", x - b }')" \
    "$a" "$ratio" "$vs_anchor" "${allocs[$row]}"
done

echo
echo "budgets (PASS/FAIL) and targets (reported only):"
failed=0
# check NAME VALUE OP LIMIT [target]: prints the line, counts a failure
# unless the word "target" follows (targets are reported, not enforced).
check() {
  local name=$1 value=$2 op=$3 limit=$4 kind=${5:-budget}
  local verdict
  if awk -v v="$value" -v l="$limit" -v op="$op" \
    'BEGIN { exit !((op == "<=") ? (v <= l) : (v == l)) }'; then
    verdict=PASS
  else
    verdict=FAIL
    if [ "$kind" = budget ]; then failed=1; fi
  fi
  printf '  %-4s %-7s %-66s %10s %s %s\n' "$verdict" "$kind" "$name" "$value" "$op" "$limit"
}
# info NAME VALUE: a measured number with no limit.
info() { printf '  %-4s %-7s %-66s %10s\n' "" info "$1" "$2"; }
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
times() { awk -v f="$1" -v r="$2" 'BEGIN { printf "%.1f", f * r }'; }

# The hand-written axum error answer over its own happy path: an error
# row may cost at most 2.5 times that; a row over 2 times it is
# reported, for its profile.
hand=$(delta "${ir[axum_json_problem]}" "${ir[axum_ok]}")
bound=$(times 2.5 "$hand")
twice=$(times 2 "$hand")
error_row() {
  check "$1 (limit: 2.5 x (axum_json_problem - axum_ok))" "$2" "<=" "$bound"
  check "$1 (2 x (axum_json_problem - axum_ok))" "$2" "<=" "$twice" target
}

echo " app layer:"
info "minimal_catch_unwind_method_ok - bare (floor with one field of state)" \
  "$(delta "${ir[minimal_catch_unwind_method_ok]}" "${ir[bare]}")"
info "app_ok_lean - bare (every option off)" "$(delta "${ir[app_ok_lean]}" "${ir[bare]}")"
info "app_ok_nocapture - bare (capture off)" "$(delta "${ir[app_ok_nocapture]}" "${ir[bare]}")"
check "app_ok - bare (baseline +760, + 10 %)" \
  "$(delta "${ir[app_ok]}" "${ir[bare]}")" "<=" 836
check "app_ok allocs/req (limit: bare's)" "${allocs[app_ok]}" "==" "${allocs[bare]}"
info "app_ok_all_errors - app_ok (the switch on, for a 200)" \
  "$(delta "${ir[app_ok_all_errors]}" "${ir[app_ok]}")"
info "axum_json_problem - axum_ok (the hand-written error answer)" "$hand"
error_row "app_error - app_ok" "$(delta "${ir[app_error]}" "${ir[app_ok]}")"
error_row "app_not_found - app_ok_all_errors" \
  "$(delta "${ir[app_not_found]}" "${ir[app_ok_all_errors]}")"
check "app_panic (limit: 1.3 x raw_catch_unwind)" "${ir[app_panic]}" "<=" \
  "$(times 1.3 "${ir[raw_catch_unwind]}")"
check "app_body_panic (limit: 1.3 x raw_catch_unwind)" "${ir[app_body_panic]}" "<=" \
  "$(times 1.3 "${ir[raw_catch_unwind]}")"
info "axum_timeout - axum_ok" "$(delta "${ir[axum_timeout]}" "${ir[axum_ok]}")"

echo " gateway layer:"
info "floor_timeout_map_result - bare" \
  "$(delta "${ir[floor_timeout_map_result]}" "${ir[bare]}")"
check "gateway_ok_ready - floor_timeout_map_result (baseline +331, + 10 %)" \
  "$(delta "${ir[gateway_ok_ready]}" "${ir[floor_timeout_map_result]}")" "<=" 364
info "gateway_ok_nocapture - floor_timeout_map_result (capture off)" \
  "$(delta "${ir[gateway_ok_nocapture]}" "${ir[floor_timeout_map_result]}")"
check "gateway_ok_pending - floor_pending (baseline +647, + 10 %)" \
  "$(delta "${ir[gateway_ok_pending]}" "${ir[floor_pending]}")" "<=" 712
for row in gateway_ok_ready gateway_ok_pending gateway_ok_idle_timeout; do
  check "$row allocs/req (limit: bare's)" "${allocs[$row]}" "==" "${allocs[bare]}"
done
info "one body frame with the idle timeout on: idle_timeout - ok_ready" \
  "$(delta "${ir[gateway_ok_idle_timeout]}" "${ir[gateway_ok_ready]}")"
# Every error row anchored on the happy path (all but the head timeout's).
for row in $rows; do
  [ "${anchor[$row]:-}" = gateway_ok_ready ] || continue
  error_row "$row - gateway_ok_ready" "$(delta "${ir[$row]}" "${ir[gateway_ok_ready]}")"
done
# The head timeout row waits on the real clock (see instructions.rs): its
# count includes the time driver's work, so it is held to the floor that
# waits the same way.
error_row "gateway_error_http_response_timeout - floor_timeout_elapsed" \
  "$(delta "${ir[gateway_error_http_response_timeout]}" "${ir[floor_timeout_elapsed]}")"

if [ "$failed" -ne 0 ]; then
  echo "a budget failed" >&2
  exit 1
fi
