// Runs every end-to-end test file against one real `llmux serve` (stories260K plus a tiny
// random-weight Qwen3), then stops it with SIGTERM and checks that it exits cleanly.
//   LLMUX_BIN=build/src/cli/llmux LLMUX_SHARED_DIR=../shared node tests/e2e/run.mjs [files]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHARED, llmuxRunGreedy, makeTinyQwen3, startServer } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(here).filter((f) => f.endsWith('.test.mjs')).map((f) => join(here, f));

const work = mkdtempSync(join(tmpdir(), 'llmux-e2e-models-'));
const stories = join(SHARED, 'models/stories260K.gguf');
const qwen = makeTinyQwen3(work);
const expected = llmuxRunGreedy(stories, 'Once upon a time', 64);
const server = await startServer([`stories=${stories}`, `tiny-qwen3=${qwen}`]);

const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  env: {
    ...process.env,
    LLMUX_BASE_URL: server.baseURL,
    LLMUX_GRPC_ADDR: server.grpcAddr,
    LLMUX_HTTP_ADDR: server.baseURL.replace('http://', ''),
    LLMUX_MODEL: 'stories',
    LLMUX_QWEN_MODEL: 'tiny-qwen3',
    LLMUX_EXPECTED_TEXT: expected,
  },
});
// The auth suite once more with its store on PostgreSQL instead of SQLite.
const authFile = files.find((f) => f.endsWith('auth.test.mjs'));
const onPostgres = authFile
  ? spawnSync(process.execPath, ['--test', authFile], {
    stdio: 'inherit', env: { ...process.env, LLMUX_E2E_STORE: 'postgres' },
  })
  : { status: 0 };
const code = await server.stop();
rmSync(work, { recursive: true, force: true });
if (code !== 0) {
  console.error(`llmux serve exited with ${code} after SIGTERM`);
  process.exit(1);
}
process.exit((result.status ?? 1) || (onPostgres.status ?? 1));
