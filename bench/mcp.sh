#!/usr/bin/env bash
# MCP benchmark: starts `llmux serve` on MODEL and runs bench/mcp/mcp_bench.mjs: the same greedy
# chat as an MCP tools/call and as POST /v1/chat/completions, at each of CONCURRENCY, rounds
# alternating, with the MCP/OpenAI ratios at the end.
#
#   MODEL=/work/bench-models/qwen3-0.6b-shape-q8_0.gguf bench/mcp.sh
#   MODEL=../shared/models/stories260K.gguf REQUESTS=200 bench/mcp.sh   # overhead-dominated case
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${MODEL:?set MODEL to a GGUF file}
CONCURRENCY=${CONCURRENCY:-"1,8"}
REQUESTS=${REQUESTS:-16}
MAX_TOKENS=${MAX_TOKENS:-32}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
PORT=${PORT:-18432}

"$BUILD/src/cli/llmux" serve --model "bench=$MODEL" --port "$PORT" --no-grpc --no-auth -t "$THREADS" \
  --data-dir "$(mktemp -d)" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done
node bench/mcp/mcp_bench.mjs --url "http://127.0.0.1:$PORT" --model bench --concurrency "$CONCURRENCY" \
  --requests "$REQUESTS" --max-tokens "$MAX_TOKENS" --rounds "$ROUNDS"
