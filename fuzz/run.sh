#!/usr/bin/env bash
# Runs the GGUF reader fuzzer for a bounded time and exits non-zero if it finds a crash.
#   fuzz/run.sh BUILD_DIR SECONDS
# BUILD_DIR is a build configured with -DCMAKE_CXX_COMPILER=clang++ -DLLMUX_FUZZ=ON.
# Crash inputs are saved under BUILD_DIR/fuzz/artifacts/.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
models=$(cd "$here/../.." && pwd)/shared/models

ninja -C "$build" gguf_reader_fuzz gguf_fuzz_seeds >/dev/null
corpus=$build/fuzz/gguf_corpus
artifacts=$build/fuzz/artifacts
mkdir -p "$corpus" "$artifacts"
"$build/fuzz/gguf_fuzz_seeds" "$corpus" "$models"

# One process (the machine is shared); inputs up to 64 KiB; any crash, leak, timeout or
# sanitizer report stops the run with a non-zero status.
exec "$build/fuzz/gguf_reader_fuzz" "$corpus" \
  -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/" -print_final_stats=1
