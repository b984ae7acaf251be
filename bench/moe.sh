#!/usr/bin/env bash
# Issue 15's mixture-of-experts benchmark: random-weight Q4_0 files in the shapes of
#  * Qwen3-30B-A3B (hidden 2048, 32 heads, 4 KV heads, head_dim 128, 128 experts of 768, top 8),
#    LAYERS_QWEN layers (default 4) instead of 48, and
#  * DeepSeek-V3 (hidden 7168, 128 heads, MLA with q_lora 1536, kv_lora 512, qk 128+64, v 128;
#    256 experts of 2048, top 8 in 4 of 8 groups, one shared expert, dense FFN 18432), one dense
#    and LAYERS_DS - 1 MoE layers (default 2 in all) instead of 3 + 58,
# made with `llmux model create` on the Qwen3 vocabulary (151,936 tokens), then prefill 512 and
# decode 128 on 2 threads with `llmux bench` and, if LLAMA_BENCH points at a llama-bench binary,
# with llama.cpp on the same files in the same run.
#
#   LLAMA_BENCH=/path/llama-bench bench/moe.sh
#   REPS=3 MODELS=/big/disk bench/moe.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LLMUX=${LLMUX:-build/src/cli/llmux}
MODELS=${MODELS:-build/bench-models}
REPS=${REPS:-3}
THREADS=${THREADS:-2}
LAYERS_QWEN=${LAYERS_QWEN:-4}
LAYERS_DS=${LAYERS_DS:-2}
VOCAB=${VOCAB:-../shared/models/qwen3-vocab.gguf}
mkdir -p "$MODELS"

qwen="$MODELS/qwen3moe-30b-a3b-shape-${LAYERS_QWEN}l-q4_0.gguf"
if [ ! -f "$qwen" ]; then
  echo "creating $qwen"
  "$LLMUX" model create --arch qwen3moe --hidden 2048 --layers "$LAYERS_QWEN" --heads 32 --kv-heads 4 \
    --head-dim 128 --ffn 6144 --experts 128 --experts-used 8 --expert-ffn 768 --untied --type q4_0 \
    --vocab-from "$VOCAB" --seed 1 --out "$qwen"
fi
ds="$MODELS/deepseek-v3-shape-${LAYERS_DS}l-q4_0.gguf"
if [ ! -f "$ds" ]; then
  echo "creating $ds (about 6.5 GB per MoE layer)"
  "$LLMUX" model create --arch deepseek2 --hidden 7168 --layers "$LAYERS_DS" --dense-layers 1 --heads 128 \
    --kv-heads 1 --ffn 18432 --experts 256 --experts-used 8 --expert-ffn 2048 --shared-experts 1 \
    --expert-groups 8 --expert-groups-used 4 --q-lora 1536 --kv-lora 512 --qk-nope 128 --qk-rope 64 \
    --v-head 128 --untied --type q4_0 --vocab-from "$VOCAB" --seed 1 --out "$ds"
fi

for model in "$qwen" "$ds"; do
  echo "## $(basename "$model"): llmux"
  "$LLMUX" bench --model "$model" -p 512 -n 128 -t "$THREADS" -r "$REPS"
  if [ -n "${LLAMA_BENCH:-}" ]; then
    echo "## $(basename "$model"): llama.cpp ($LLAMA_BENCH)"
    "$LLAMA_BENCH" -m "$model" -p 512 -n 128 -t "$THREADS" -r "$REPS" -o md
  fi
done
