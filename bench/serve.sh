#!/usr/bin/env bash
# Serving benchmark: starts `llmux serve` on a model and runs bench/serving's client at each
# concurrency. With LLAMA_SERVER=/path/to/llama-server it measures llama.cpp's server on the
# same file in the same run, so the figures can be compared as ratios.
#
#   MODEL=/work/bench-models/qwen3-0.6b-shape-q8_0.gguf CONCURRENCY="1" bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${MODEL:?set MODEL to a GGUF file}
CONCURRENCY=${CONCURRENCY:-1}
REQUESTS=${REQUESTS:-8}
PROMPT_TOKENS=${PROMPT_TOKENS:-128}
MAX_TOKENS=${MAX_TOKENS:-128}
THREADS=${THREADS:-2}
PORT=${PORT:-18431}

run_client() {  # name url
  for c in $CONCURRENCY; do
    echo "== $1, concurrency $c"
    "$BUILD/bench/serving/serving_bench" --url "$2" --model bench --concurrency "$c" \
      --requests "$(( REQUESTS > c ? REQUESTS : c ))" --prompt-tokens "$PROMPT_TOKENS" \
      --max-tokens "$MAX_TOKENS" --ignore-eos
  done
}

wait_healthy() {  # url
  for _ in $(seq 600); do
    curl -sf "$1/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server at $1 never became healthy" >&2
  return 1
}

"$BUILD/src/cli/llmux" serve --model "bench=$MODEL" --port "$PORT" --no-grpc -t "$THREADS" \
  --data-dir "$(mktemp -d)" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_healthy "http://127.0.0.1:$PORT"
run_client llmux "http://127.0.0.1:$PORT"
kill "$pid"; wait "$pid" 2>/dev/null || true

if [ -n "${LLAMA_SERVER:-}" ]; then
  "$LLAMA_SERVER" -m "$MODEL" --port "$((PORT + 1))" -t "$THREADS" -np "${LLAMA_PARALLEL:-1}" \
    --cont-batching -c "$(( ${LLAMA_PARALLEL:-1} * (PROMPT_TOKENS + MAX_TOKENS + 64) ))" \
    --alias bench >/dev/null 2>&1 &
  lpid=$!
  trap 'kill $lpid 2>/dev/null || true' EXIT
  wait_healthy "http://127.0.0.1:$((PORT + 1))"
  run_client llama-server "http://127.0.0.1:$((PORT + 1))"
  kill "$lpid"; wait "$lpid" 2>/dev/null || true
fi
