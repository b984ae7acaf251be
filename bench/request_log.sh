#!/usr/bin/env bash
# Request-log overhead: serving throughput at one concurrency with the request log on and off.
# Authentication is on in both (the log lives in its store), so the log is the only difference.
# The two servers alternate ROUNDS times (on, off, off, on, ...) so that drift in a shared
# machine's load falls on both alike; each run prints its output tokens/s, and the end the
# medians, their ratio and how many records the "on" servers stored (and dropped). Beside
# throughput it reads the CPU time the server used (user + system, from /proc): on a machine
# shared with other work, wall-clock throughput swings with their load, CPU time much less.
#
#   MODEL=/work/shared/models/qwen3-mini-q8_0.gguf bench/request_log.sh
#   MODEL=... CONCURRENCY=8 ROUNDS=4 REQUESTS=64 bench/request_log.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${MODEL:?set MODEL to a GGUF file}
CONCURRENCY=${CONCURRENCY:-8}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-32}
PROMPT_TOKENS=${PROMPT_TOKENS:-64}
MAX_TOKENS=${MAX_TOKENS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18461}

declare -a on off cpu_on cpu_off
TICKS=$(getconf CLK_TCK)
stored=0
dropped=0

run_one() {  # on|off
  local dir pid key tps
  dir=$(mktemp -d)
  local flags=()
  [ "$1" = off ] && flags=(--no-request-log)
  "$BUILD/src/cli/llmux" serve --model "bench=$MODEL" --port "$PORT" --no-grpc -t "$THREADS" \
    --data-dir "$dir/data" "${flags[@]}" 2>"$dir/log" &
  pid=$!
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  key=$(cat "$dir/data/admin-api-key")
  tps=$("$BUILD/bench/serving/serving_bench" --url "http://127.0.0.1:$PORT" --model bench \
    --api-key "$key" --concurrency "$CONCURRENCY" --requests "$REQUESTS" \
    --prompt-tokens "$PROMPT_TOKENS" --max-tokens "$MAX_TOKENS" --ignore-eos --seed 108 --json |
    jq -r .output_tokens_per_s)
  local cpu
  cpu=$(awk -v t="$TICKS" '{printf "%.2f", ($14 + $15) / t}' "/proc/$pid/stat")
  if [ "$1" = on ]; then
    on+=("$tps")
    cpu_on+=("$cpu")
    sleep 1  # the writer's last batch
    local m
    m=$(curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/metrics")
    stored=$((stored + $(awk '/^llmux_request_log_written_total/ {print $2}' <<<"$m")))
    dropped=$((dropped + $(awk '/^llmux_request_log_dropped_total/ {print $2}' <<<"$m")))
  else
    off+=("$tps")
    cpu_off+=("$cpu")
  fi
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  echo "log $1: output tokens/s $tps, server CPU $cpu s"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then run_one on; run_one off; else run_one off; run_one on; fi
done
mon=$(median "${on[@]}")
moff=$(median "${off[@]}")
echo "concurrency $CONCURRENCY, $ROUNDS rounds of $REQUESTS requests ($PROMPT_TOKENS prompt, $MAX_TOKENS output tokens)"
echo "log on : ${on[*]}  median $mon"
echo "log off: ${off[*]}  median $moff"
awk -v a="$mon" -v b="$moff" 'BEGIN {printf "on/off median ratio %.4f (%+.2f%%)\n", a / b, (a / b - 1) * 100}'
con=$(median "${cpu_on[@]}")
coff=$(median "${cpu_off[@]}")
echo "server CPU s, log on : ${cpu_on[*]}  median $con"
echo "server CPU s, log off: ${cpu_off[*]}  median $coff"
awk -v a="$con" -v b="$coff" 'BEGIN {printf "CPU on/off median ratio %.4f (%+.2f%%)\n", a / b, (a / b - 1) * 100}'
echo "records stored by the 'on' servers: $stored, dropped: $dropped (the bench's warm-up requests included)"
