#!/usr/bin/env bash
# Instructions and heap allocations per request for each row of
# benches/instructions.rs, and the budgets the app layer has to keep.
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
# Exits 1 if a budget fails.
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

echo
echo "instructions per request: (Ir($long) - Ir($short)) / $((long - short)), callgrind"
printf '%-28s %12s %12s %12s\n' row instr/req "vs bare" allocs/req
for row in $rows; do
  printf '%-28s %12s %12s %12s\n' "$row" "${ir[$row]}" \
    "$(awk -v x="${ir[$row]}" -v b="${ir[bare]}" 'BEGIN { printf "%+.1f", x - b }')" \
    "${allocs[$row]}"
done

echo
echo "budgets:"
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
  printf '  %-4s %-7s %-46s %10s %s %s\n' "$verdict" "$kind" "$name" "$value" "$op" "$limit"
}
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }

check "app_ok_nocapture - bare" "$(delta "${ir[app_ok_nocapture]}" "${ir[bare]}")" "<=" 150
check "app_ok - bare" "$(delta "${ir[app_ok]}" "${ir[bare]}")" "<=" 350
check "app_ok - bare" "$(delta "${ir[app_ok]}" "${ir[bare]}")" "<=" 250 target
check "app_error - app_ok" "$(delta "${ir[app_error]}" "${ir[app_ok]}")" "<=" 2500
check "app_panic (limit: 1.2 x raw_catch_unwind)" "${ir[app_panic]}" "<=" \
  "$(awk -v r="${ir[raw_catch_unwind]}" 'BEGIN { printf "%.1f", 1.2 * r }')"
check "app_ok allocs/req (limit: bare's)" "${allocs[app_ok]}" "==" "${allocs[bare]}"

if [ "$failed" -ne 0 ]; then
  echo "a budget failed" >&2
  exit 1
fi
