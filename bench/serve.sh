#!/usr/bin/env bash
# Serving benchmark: starts `llmux serve` on a model and runs bench/serving's client at each
# concurrency, then the prefix-cache case (PREFIX_PAIRS pairs of PREFIX_TOKENS-word prompts
# sharing all but their last words: TTFT of the second against the first). With
# LLAMA_SERVER=/path/to/llama-server it measures llama.cpp's server (-np LLAMA_PARALLEL
# --cont-batching) on the same file in the same run, so the figures compare as ratios.
#
#   MODEL=/work/bench-models/qwen3-0.6b-shape-q8_0.gguf bench/serve.sh
#   MODEL=... CONCURRENCY="8" LLAMA_SERVER=/path/llama-server bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${MODEL:?set MODEL to a GGUF file}
CONCURRENCY=${CONCURRENCY:-"1 4 8 16"}
PREFIX_PAIRS=${PREFIX_PAIRS:-3}
PREFIX_TOKENS=${PREFIX_TOKENS:-1000}
LLAMA_PARALLEL=${LLAMA_PARALLEL:-8}
REQUESTS=${REQUESTS:-8}
PROMPT_TOKENS=${PROMPT_TOKENS:-128}
MAX_TOKENS=${MAX_TOKENS:-128}
THREADS=${THREADS:-2}
PORT=${PORT:-18431}

run_client() {  # name url [extra client flags]
  for c in $CONCURRENCY; do
    echo "== $1, concurrency $c"
    "$BUILD/bench/serving/serving_bench" --url "$2" --model bench --concurrency "$c" ${3:-} \
      --requests "$(( REQUESTS > c ? REQUESTS : c ))" --prompt-tokens "$PROMPT_TOKENS" \
      --max-tokens "$MAX_TOKENS" --ignore-eos --seed "$((c + 100))"
  done
  if [ "$PREFIX_PAIRS" -gt 0 ]; then
    echo "== $1, prefix cache"
    "$BUILD/bench/serving/serving_bench" --url "$2" --model bench --prefix-pairs "$PREFIX_PAIRS" ${3:-} \
      --prompt-tokens "$PREFIX_TOKENS" --max-tokens 4
  fi
}

wait_healthy() {  # url
  for _ in $(seq 600); do
    curl -sf "$1/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server at $1 never became healthy" >&2
  return 1
}

"$BUILD/src/cli/llmux" serve --model "bench=$MODEL" --port "$PORT" --no-grpc --no-auth -t "$THREADS" \
  --data-dir "$(mktemp -d)" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_healthy "http://127.0.0.1:$PORT"
run_client llmux "http://127.0.0.1:$PORT"
kill "$pid"; wait "$pid" 2>/dev/null || true

if [ -n "${LLAMA_SERVER:-}" ]; then
  slot_ctx=$(( PROMPT_TOKENS + MAX_TOKENS + 64 ))
  if [ "$PREFIX_PAIRS" -gt 0 ] && [ "$slot_ctx" -lt $(( PREFIX_TOKENS + 128 )) ]; then
    slot_ctx=$(( PREFIX_TOKENS + 128 ))
  fi
  "$LLAMA_SERVER" -m "$MODEL" --port "$((PORT + 1))" -t "$THREADS" -np "$LLAMA_PARALLEL" \
    --cont-batching -c "$(( LLAMA_PARALLEL * slot_ctx ))" --alias bench >/dev/null 2>&1 &
  lpid=$!
  trap 'kill $lpid 2>/dev/null || true' EXIT
  wait_healthy "http://127.0.0.1:$((PORT + 1))"
  # Its streams of random-weight text sometimes end in an output-parser error event after
  # the last token; the tokens were delivered, so those requests count.
  run_client llama-server "http://127.0.0.1:$((PORT + 1))" --tolerate-trailing-error
  kill "$lpid"; wait "$lpid" 2>/dev/null || true
fi
