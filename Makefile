# The two entry points of the README: `make run` and `make test`.
BUILD_DIR ?= build
MODEL ?= ../shared/models/stories260K.gguf
PROMPT ?= Once upon a time

.PHONY: setup build run test bench clean

setup:
	scripts/setup

build: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR)

# Until the server exists, the product's embedded default is a local generation run.
run: build
	$(BUILD_DIR)/src/cli/llmux run --model $(MODEL) --prompt "$(PROMPT)" -n 128

test: setup
	scripts/test

bench: build
	bench/run.sh

clean:
	rm -rf build build-asan build-fuzz
