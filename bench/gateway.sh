#!/usr/bin/env bash
# Gateway overhead (issue 14): the same model served by `llmux serve` (all in one: HTTP straight
# to the engine) and by `llmux gateway` in front of one `llmux worker` (HTTP, then the worker
# protocol over loopback gRPC), measured by bench/serving's client. The difference is what the
# gateway hop costs: added TTFT and end-to-end latency (p50/p99) and lost output tokens/s.
#
# Both set-ups run side by side (an idle server costs nothing) and the client alternates between
# them, ROUNDS times at each concurrency, so that the noise of a shared machine (other virtual
# machines' load comes and goes over seconds) falls on both alike. The summary gives the median
# over the rounds of each figure, and the CPU time each process spent per output token (from
# /proc; warm-up requests included), which the neighbours' load hardly moves: the gateway's own,
# and the worker's above what `llmux serve` spends on the same work.
#
#   bench/gateway.sh                                     # stories260K from ../shared
#   MODEL=/path/model.gguf CONCURRENCY="1 8 64" bench/gateway.sh
#   MODEL=qwen3-0.6b-q8_0 REQUESTS=8 MAX_TOKENS=32 bench/gateway.sh   # a Qwen3-0.6B-shaped
#       random-weight model (as bench/run.sh makes it): a token costs what a small real model's does
#   STREAM_WINDOW_MS=0 bench/gateway.sh                  # the worker sends every delta alone
#   PIN=1 bench/gateway.sh                               # the gateway as deployed, on a CPU of its own:
#       `llmux serve` and `llmux worker` on CPU 0, the gateway and the client on CPU 1 (taskset), so
#       that the engine has the same one CPU in both set-ups and the hop's work does not take from it
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${MODEL:-../shared/models/stories260K.gguf}
CONCURRENCY=${CONCURRENCY:-"1 8 64"}
REQUESTS=${REQUESTS:-64}
ROUNDS=${ROUNDS:-3}
PROMPT_TOKENS=${PROMPT_TOKENS:-32}
MAX_TOKENS=${MAX_TOKENS:-64}
THREADS=${THREADS:-1}
PORT=${PORT:-18531}
LLMUX="$BUILD/src/cli/llmux"
if [[ "$MODEL" == qwen3-0.6b-* ]]; then
  type=${MODEL#qwen3-0.6b-}
  MODEL="$BUILD/bench-models/qwen3-0.6b-shape-$type.gguf"
  if [ ! -f "$MODEL" ]; then
    mkdir -p "$BUILD/bench-models"
    "$LLMUX" model create --arch qwen3 --hidden 1024 --layers 28 --heads 16 --kv-heads 8 --head-dim 128 \
      --ffn 3072 --type "$type" --vocab-from ../shared/models/qwen3-vocab.gguf --seed 1 --out "$MODEL"
  fi
fi
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

engine_flags=(-t "$THREADS" --max-running 64 --max-batch-tokens 512)
on_engine_cpu=()
on_edge_cpu=()
if [ "${PIN:-0}" = 1 ]; then
  on_engine_cpu=(taskset -c 0)
  on_edge_cpu=(taskset -c 1)
fi
direct="http://127.0.0.1:$PORT"
gateway="http://127.0.0.1:$((PORT + 1))"

"${on_engine_cpu[@]}" "$LLMUX" serve --model "bench=$MODEL" --port "$PORT" --no-grpc --no-auth "${engine_flags[@]}" \
  --data-dir "$work/direct" 2>/dev/null &
serve_pid=$!
worker_flags=()
[ -n "${STREAM_WINDOW_MS:-}" ] && worker_flags+=(--stream-window-ms "$STREAM_WINDOW_MS")
"${on_engine_cpu[@]}" "$LLMUX" worker --model "bench=$MODEL" --port "$((PORT + 2))" "${engine_flags[@]}" "${worker_flags[@]}" \
  2>/dev/null &
worker_pid=$!
"${on_edge_cpu[@]}" "$LLMUX" gateway --worker "127.0.0.1:$((PORT + 2))" --port "$((PORT + 1))" --no-grpc --no-auth \
  --data-dir "$work/gateway" 2>/dev/null &
gateway_pid=$!
pids+=("$serve_pid" "$worker_pid" "$gateway_pid")
wait_healthy "$direct"
wait_healthy "$gateway"

cpu_ticks() {  # pid: user + system clock ticks so far
  awk '{print $14 + $15}' "/proc/$1/stat"
}

# One line per run: "<setup> <concurrency> <CPU seconds of serve|worker> <of the gateway> <JSON>".
results="$work/results"
hz=$(getconf CLK_TCK)
for c in $CONCURRENCY; do
  for round in $(seq "$ROUNDS"); do
    for setup in direct gateway; do
      url=$direct
      [ "$setup" = gateway ] && url=$gateway
      engine_pid=$serve_pid
      [ "$setup" = gateway ] && engine_pid=$worker_pid
      engine_before=$(cpu_ticks "$engine_pid")
      gateway_before=$(cpu_ticks "$gateway_pid")
      json=$("${on_edge_cpu[@]}" "$BUILD/bench/serving/serving_bench" --url "$url" --model bench --concurrency "$c" \
        --requests "$(( REQUESTS > c ? REQUESTS : c ))" --prompt-tokens "$PROMPT_TOKENS" \
        --max-tokens "$MAX_TOKENS" --ignore-eos --seed "$((c * 10 + round))" --warmup 2 --json)
      engine_cpu=$(echo "($(cpu_ticks "$engine_pid") - $engine_before) / $hz" | bc -l)
      gateway_cpu=$(echo "($(cpu_ticks "$gateway_pid") - $gateway_before) / $hz" | bc -l)
      echo "$setup $c $engine_cpu $gateway_cpu $json" >>"$results"
      echo "concurrency $c, round $round, $setup: $json"
    done
  done
done

python3 - "$results" <<'EOF'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    setup, c, engine_cpu, gateway_cpu, js = line.split(" ", 4)
    r = json.loads(js)
    tokens = (r["requests"] + 2) * r["mean_output_tokens"]  # with the 2 warm-up requests
    r["engine_cpu_us_per_token"] = float(engine_cpu) * 1e6 / tokens
    r["gateway_cpu_us_per_token"] = float(gateway_cpu) * 1e6 / tokens
    runs.setdefault((int(c), setup), []).append(r)
med = lambda rs, f: statistics.median(f(r) for r in rs)
print("\nmedians over the rounds (direct = llmux serve, gateway = llmux gateway + llmux worker)")
print("| concurrency | output tok/s direct / gateway | E2E p50 ms | E2E p99 ms | TTFT p50 ms | added E2E p50 "
      "| CPU µs/token: serve / worker + gateway |")
print("|---|---|---|---|---|---|---|")
for c in sorted({c for c, _ in runs}):
    d, g = runs[(c, "direct")], runs[(c, "gateway")]
    if any(r["failed"] for r in d + g):
        print(f"| {c} | FAILED requests: direct {sum(r['failed'] for r in d)}, gateway {sum(r['failed'] for r in g)} |")
        continue
    tp = [med(x, lambda r: r["output_tokens_per_s"]) for x in (d, g)]
    e50 = [med(x, lambda r: r["e2e_ms"]["p50"]) for x in (d, g)]
    e99 = [med(x, lambda r: r["e2e_ms"]["p99"]) for x in (d, g)]
    t50 = [med(x, lambda r: r["ttft_ms"]["p50"]) for x in (d, g)]
    serve_cpu = med(d, lambda r: r["engine_cpu_us_per_token"])
    worker_cpu = med(g, lambda r: r["engine_cpu_us_per_token"])
    gateway_cpu = med(g, lambda r: r["gateway_cpu_us_per_token"])
    print(f"| {c} | {tp[0]:.1f} / {tp[1]:.1f} ({100 * (tp[1] / tp[0] - 1):+.1f}%) | {e50[0]:.1f} / {e50[1]:.1f} "
          f"| {e99[0]:.1f} / {e99[1]:.1f} | {t50[0]:.1f} / {t50[1]:.1f} | {e50[1] - e50[0]:+.2f} ms "
          f"| {serve_cpu:.0f} / {worker_cpu:.0f} + {gateway_cpu:.0f} ({100 * (worker_cpu + gateway_cpu - serve_cpu) / serve_cpu:+.1f}%) |")
EOF
