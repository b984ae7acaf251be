// Starts a real `llmux serve` for end-to-end tests and stops it again.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.LLMUX_BIN;
export const SHARED = process.env.LLMUX_SHARED_DIR;
if (!BIN || !SHARED) throw new Error('set LLMUX_BIN and LLMUX_SHARED_DIR');

// A small random-weight Qwen3 model with the real Qwen3 vocabulary and chat template.
export function makeTinyQwen3(dir) {
  const out = join(dir, 'tiny-qwen3.gguf');
  execFileSync(BIN, ['model', 'create', '--arch', 'qwen3', '--hidden', '64', '--layers', '2',
    '--heads', '2', '--kv-heads', '1', '--head-dim', '32', '--ffn', '128', '--type', 'q8_0',
    '--vocab-from', join(SHARED, 'models/qwen3-vocab.gguf'), '--seed', '7', '--out', out]);
  return out;
}

// Spawns `llmux serve` with free ports; resolves once /health answers 200. Authentication
// is off (--no-auth) unless `auth` is true; then `adminKey` is the key printed at first start.
export async function startServer(models, extraArgs = [], { auth = false, dataDir = null } = {}) {
  const ownDir = dataDir === null;
  if (ownDir) dataDir = mkdtempSync(join(tmpdir(), 'llmux-e2e-'));
  const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--grpc-port', '0',
    '--data-dir', dataDir, '-t', '1', ...(auth ? [] : ['--no-auth']), ...extraArgs];
  for (const m of models) args.push('--model', m);
  const child = spawn(BIN, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  const ports = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('llmux serve did not start:\n' + stderr)), 60000);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      process.stderr.write(chunk);
      // Only a whole line: the gRPC part must not be missed because it arrived later.
      const m = /HTTP on (https?):\/\/[^:]+:(\d+)(?:, gRPC on [^:]+:(\d+))?[^\n]*\n/.exec(stderr);
      if (m) { clearTimeout(timer); resolve({ scheme: m[1], http: Number(m[2]), grpc: Number(m[3]) }); }
    });
    child.on('exit', (code) => reject(new Error(`llmux serve exited (${code}):\n${stderr}`)));
  });
  const baseURL = `${ports.scheme}://127.0.0.1:${ports.http}`;
  for (let i = 0; ; ++i) {
    // Over HTTPS (a test CA fetch does not trust) the ready line says the same as /health.
    if (ports.scheme === 'https' && stderr.includes('llmux: ready')) break;
    try {
      const r = ports.scheme === 'http' ? await fetch(`${baseURL}/health`) : null;
      if (r?.status === 200) break;
    } catch { /* not yet */ }
    if (i > 600) throw new Error('llmux serve never became healthy');
    await new Promise((r) => setTimeout(r, 100));
  }
  const adminKey = /admin API key[\s\S]*?(llmux_[a-z2-7]{12}_[0-9A-Za-z]{43})/.exec(stderr)?.[1];
  return {
    baseURL,
    grpcAddr: `127.0.0.1:${ports.grpc}`,
    child,
    dataDir,
    pid: child.pid,
    adminKey,
    // Everything the server wrote to stderr so far.
    log: () => stderr,
    // SIGTERM; resolves with the exit code.
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.on('exit', (code) => {
          if (ownDir) rmSync(dataDir, { recursive: true, force: true });
          resolve(code);
        });
        child.kill('SIGTERM');
      });
    },
  };
}

// llama.cpp's greedy continuation of a stories260K prompt (64 tokens, llama_cpp.precise in
// ../shared/vectors/stories260K.json; llama2.c's run.c agrees): the text llmux must produce.
export function referenceContinuation(prompt = 'Once upon a time') {
  const vectors = JSON.parse(readFileSync(join(SHARED, 'vectors/stories260K.json'), 'utf8'));
  const entry = vectors.prompts.find((p) => p.text === prompt);
  if (!entry) throw new Error(`no reference continuation for ${JSON.stringify(prompt)}`);
  return entry.llama_cpp.precise.generated_text;
}
