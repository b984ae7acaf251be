#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each, one after the other, for its share of SECONDS.
#   fuzz/run.sh BUILD_DIR SECONDS [NAME...]
# BUILD_DIR is a build configured with -DCMAKE_CXX_COMPILER=clang++ -DLLMUX_FUZZ=ON. NAME picks
# targets (default: all of gguf_reader safetensors openai_request ollama_request anthropic_request mcp_message chat_template jwt
# structured_output); SECONDS
# is the total, split evenly between them (at least 5 s each).
#
# Per target, under BUILD_DIR/fuzz/: the corpus it grows (corpus/NAME, kept between runs), its
# seeds (checked in under fuzz/corpus/, or written by a seed tool into seeds/NAME), its log
# (logs/NAME.log) and the inputs of any failure (artifacts/NAME/). fuzz/dicts/NAME.dict is its
# dictionary, if there is one. results.txt gets one line per target:
#   NAME ok|FAILED SECONDS EXECS EXECS_PER_S COV FEATURES CORPUS_UNITS [ARTIFACT]
# Any crash, leak, timeout, out-of-memory or sanitizer report fails the target; every target
# still runs, and the exit status is non-zero when one failed.
set -uo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS [NAME...]" >&2
  exit 2
fi
build=$1
seconds=$2
shift 2
all=(gguf_reader safetensors openai_request ollama_request anthropic_request mcp_message chat_template jwt structured_output)
names=("$@")
((${#names[@]} == 0)) && names=("${all[@]}")
here=$(cd "$(dirname "$0")" && pwd)
models=$(cd "$here/../.." && pwd)/shared/models
out=$build/fuzz

mkdir -p "$out"
if ! ninja -C "$build" llmux_fuzz >"$out/build.log" 2>&1; then
  cat "$out/build.log" >&2
  echo "fuzz: the build failed" >&2
  exit 1
fi

# seeds NAME: the directory of NAME's seed inputs.
seeds() {
  case $1 in
    gguf_reader)
      mkdir -p "$out/seeds/gguf_reader"
      "$out/gguf_fuzz_seeds" "$out/seeds/gguf_reader" "$models" >/dev/null && echo "$out/seeds/gguf_reader" ;;
    jwt)
      "$out/jwt_fuzz_seeds" "$out/seeds/jwt" && echo "$out/seeds/jwt" ;;
    safetensors) echo "$here/corpus/safetensors" ;;
    openai_request) echo "$here/corpus/openai" ;;
    ollama_request) echo "$here/corpus/ollama" ;;
    anthropic_request) echo "$here/corpus/anthropic" ;;
    mcp_message) echo "$here/corpus/mcp" ;;
    chat_template) echo "$here/corpus/chat" ;;
    structured_output) echo "$here/corpus/structured_output" ;;
    *) return 1 ;;
  esac
}

# Inputs up to what the target parses in practice: GGUF heads, request bodies, tokens.
max_len() {
  case $1 in
    gguf_reader) echo 65536 ;;
    jwt) echo 4096 ;;
    *) echo 8192 ;;
  esac
}

share=$((seconds / ${#names[@]}))
((share < 5)) && share=5
: >"$out/results.txt"
status=0
for name in "${names[@]}"; do
  bin=$out/${name}_fuzz
  corpus=$out/corpus/$name
  artifacts=$out/artifacts/$name
  log=$out/logs/$name.log
  mkdir -p "$corpus" "$artifacts" "$out/logs"
  if [[ ! -x $bin ]] || ! seed_dir=$(seeds "$name"); then
    echo "fuzz: no target or seeds for '$name'" >&2
    echo "$name FAILED 0 0 0 0 0 0 (no target or seeds)" >>"$out/results.txt"
    status=1
    continue
  fi
  echo "fuzz: $name for ${share}s"
  # One process (the machine is shared); the first directory is the one the fuzzer adds to.
  dict=()
  [[ -f $here/dicts/$name.dict ]] && dict=(-dict="$here/dicts/$name.dict")
  "$bin" "$corpus" "$seed_dir" "${dict[@]}" -max_total_time="$share" \
    -max_len="$(max_len "$name")" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  last=$(grep -E '^#[0-9]+[[:space:]].* cov: ' "$log" | tail -n 1)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  units=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
  if ((rc == 0)); then
    echo "$name ok $share ${execs:-0} ${rate:-0} ${cov:-0} ${ft:-0} ${units:-0}" >>"$out/results.txt"
  else
    status=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    tail -n 60 "$log" >&2
    echo "fuzz: $name FAILED (exit $rc); input: ${artifact:-none saved}; log: $log" >&2
    echo "$name FAILED $share ${execs:-0} ${rate:-0} ${cov:-0} ${ft:-0} ${units:-0} ${artifact:-none}" \
      >>"$out/results.txt"
  fi
done

echo "fuzz results (target, result, seconds, execs, execs/s, coverage, features, corpus units):"
column -t "$out/results.txt" | sed 's/^/  /'
exit $status
