#!/usr/bin/env bash
# Benchmark of issue 2: a Qwen3-0.6B-shaped random-weight model (hidden 1024, 28 layers,
# 16 heads, 8 KV heads, head_dim 128, FFN 3072, vocab 151936, tied) in F16, Q8_0 and Q4_0,
# prefill 512 and decode 128 tokens on 2 threads. If LLAMA_BENCH points at a llama-bench
# binary, the same files are measured with it in the same run, so ratios compare like with like.
#
#   bench/run.sh                      # ours only
#   LLAMA_BENCH=/path/llama-bench bench/run.sh
#   TYPES="q8_0 q4_0 q4_k_m" REPS=3 bench/run.sh
#   ISA=avx2 LLAMA_BENCH=/path/to/an/avx2-only/llama-bench bench/run.sh   # the AVX2 paths
set -euo pipefail
cd "$(dirname "$0")/.."
LLMUX=${LLMUX:-build/src/cli/llmux}
MODELS=${MODELS:-build/bench-models}
TYPES=${TYPES:-"q8_0 q4_0 f16"}
REPS=${REPS:-5}
THREADS=${THREADS:-2}
ISA=${ISA:-best}  # llmux bench --isa: best, avx512, avx2 or scalar
VOCAB=${VOCAB:-../shared/models/qwen3-vocab.gguf}
mkdir -p "$MODELS"

for type in $TYPES; do
  model="$MODELS/qwen3-0.6b-shape-$type.gguf"
  if [ ! -f "$model" ]; then
    echo "creating $model"
    "$LLMUX" model create --arch qwen3 --hidden 1024 --layers 28 --heads 16 --kv-heads 8 --head-dim 128 \
      --ffn 3072 --type "$type" --vocab-from "$VOCAB" --seed 1 --out "$model"
  fi
  echo "## $type: llmux (--isa $ISA)"
  "$LLMUX" bench --model "$model" -p 512 -n 128 -t "$THREADS" -r "$REPS" --isa "$ISA"
  if [ -n "${LLAMA_BENCH:-}" ]; then
    echo "## $type: llama.cpp ($LLAMA_BENCH)"
    "$LLAMA_BENCH" -m "$model" -p 512 -n 128 -t "$THREADS" -r "$REPS" -o md
  fi
done
