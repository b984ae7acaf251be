#!/usr/bin/env bash
# Gateway overhead (issue 14): the same model served by `llmux serve` (all in one: HTTP straight
# to the engine) and by `llmux gateway` in front of one `llmux worker` (HTTP, then the worker
# protocol over loopback gRPC), measured by bench/serving's client at each concurrency in the
# same run. The difference is what the gateway hop costs: added TTFT and end-to-end latency
# (p50/p99) and lost output tokens/s.
#
#   bench/gateway.sh                                   # stories260K from ../shared
#   MODEL=/path/model.gguf CONCURRENCY="1 8 64" bench/gateway.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${MODEL:-../shared/models/stories260K.gguf}
CONCURRENCY=${CONCURRENCY:-"1 8 64"}
REQUESTS=${REQUESTS:-64}
PROMPT_TOKENS=${PROMPT_TOKENS:-32}
MAX_TOKENS=${MAX_TOKENS:-64}
THREADS=${THREADS:-1}
PORT=${PORT:-18531}
LLMUX="$BUILD/src/cli/llmux"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

wait_healthy() {  # url
  for _ in $(seq 600); do
    curl -sf "$1/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server at $1 never became healthy" >&2
  return 1
}

run_client() {  # name url
  for c in $CONCURRENCY; do
    echo "== $1, concurrency $c"
    "$BUILD/bench/serving/serving_bench" --url "$2" --model bench --concurrency "$c" \
      --requests "$(( REQUESTS > c ? REQUESTS : c ))" --prompt-tokens "$PROMPT_TOKENS" \
      --max-tokens "$MAX_TOKENS" --ignore-eos --seed "$((c + 100))" --warmup 2
  done
}

engine_flags=(-t "$THREADS" --max-running 64 --max-batch-tokens 512)

"$LLMUX" serve --model "bench=$MODEL" --port "$PORT" --no-grpc --no-auth "${engine_flags[@]}" \
  --data-dir "$work/direct" 2>/dev/null &
pids+=($!)
wait_healthy "http://127.0.0.1:$PORT"
run_client "direct (llmux serve)" "http://127.0.0.1:$PORT"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

"$LLMUX" worker --model "bench=$MODEL" --port "$((PORT + 2))" "${engine_flags[@]}" 2>/dev/null &
pids+=($!)
"$LLMUX" gateway --worker "127.0.0.1:$((PORT + 2))" --port "$((PORT + 1))" --no-grpc --no-auth \
  --data-dir "$work/gateway" 2>/dev/null &
pids+=($!)
wait_healthy "http://127.0.0.1:$((PORT + 1))"
run_client "gateway + worker" "http://127.0.0.1:$((PORT + 1))"
