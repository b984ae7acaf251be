// Runs end-to-end test files against one real `llmux serve` (stories260K, a tiny random-weight
// Qwen3, and the shared qwen3moe and deepseek3 minis), then stops it with SIGTERM and checks that it exits cleanly.
//   LLMUX_BIN=build/src/cli/llmux LLMUX_SHARED_DIR=../shared node tests/e2e/run.mjs FILE...
// ctest runs one file per entry (tests/e2e/CMakeLists.txt). With LLMUX_E2E_JUNIT=path the node
// test runner also writes a JUnit report there, which scripts/test reads for skips and timings.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED, makeTinyQwen3, startServer } from './server.mjs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node run.mjs FILE.test.mjs...');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'llmux-e2e-models-'));
const stories = join(SHARED, 'models/stories260K.gguf');
const qwen = makeTinyQwen3(work);
const moe = join(SHARED, 'models/qwen3moe-mini-q8_0.gguf');
const deepseek = join(SHARED, 'models/deepseek3-mini-q8_0.gguf');
const server = await startServer([`stories=${stories}`, `tiny-qwen3=${qwen}`, `qwen3moe-mini=${moe}`,
  `deepseek3-mini=${deepseek}`]);

const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout'];
if (process.env.LLMUX_E2E_JUNIT) {
  reporters.push('--test-reporter=junit', `--test-reporter-destination=${process.env.LLMUX_E2E_JUNIT}`);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...reporters, ...files], {
  stdio: 'inherit',
  env: {
    ...process.env,
    LLMUX_BASE_URL: server.baseURL,
    LLMUX_GRPC_ADDR: server.grpcAddr,
    LLMUX_HTTP_ADDR: server.baseURL.replace('http://', ''),
    LLMUX_MODEL: 'stories',
    LLMUX_QWEN_MODEL: 'tiny-qwen3',
    LLMUX_MOE_MODEL: 'qwen3moe-mini',
    LLMUX_DEEPSEEK_MODEL: 'deepseek3-mini',
  },
});
const code = await server.stop();
rmSync(work, { recursive: true, force: true });
if (code !== 0) {
  console.error(`llmux serve exited with ${code} after SIGTERM`);
  process.exit(1);
}
process.exit(result.status ?? 1);
