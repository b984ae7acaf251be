# The two entry points of the README: `make run` and `make test`.
BUILD_DIR ?= build
# `make run` also serves the web console (web/console, built into $(BUILD_DIR)/console) at
# http://127.0.0.1:8080/console/.
# The embedded default serves a demo model (random weights, real Qwen3 tokenizer) that
# scripts/make-demo-model builds; `make run MODEL=path.gguf` serves a real model instead.
DEMO_MODEL := llmux-data/models/demo-random-qwen3.gguf
MODEL ?=

.PHONY: setup build run test bench clean

setup:
	scripts/setup

build: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR)

run: build
ifeq ($(MODEL),)
	LLMUX_BIN=$(BUILD_DIR)/src/cli/llmux scripts/make-demo-model $(DEMO_MODEL)
	$(BUILD_DIR)/src/cli/llmux serve --model llmux-demo-random-qwen3=$(DEMO_MODEL) --host 127.0.0.1 --port 8080 --grpc-port 50051 \
	  --data-dir llmux-data --console-dir $(BUILD_DIR)/console
else
	$(BUILD_DIR)/src/cli/llmux serve --model $(MODEL) --host 127.0.0.1 --port 8080 --grpc-port 50051 \
	  --data-dir llmux-data --console-dir $(BUILD_DIR)/console
endif

test: setup
	scripts/test

bench: build
	bench/run.sh

clean:
	rm -rf build build-asan build-tsan build-fuzz
