// Processes of a multi-machine llmux on loopback, for the cluster end-to-end tests: a real etcd
// (Debian's etcd-server), a real redis-server, `llmux worker`s and `llmux gateway`s.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BIN } from './server.mjs';

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves when `check` returns a truthy value (polled), rejects after `ms`.
export async function waitFor(what, check, ms = 20000, every = 50) {
  const until = Date.now() + ms;
  for (;;) {
    let value;
    try { value = await check(); } catch { value = undefined; }
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

// A child process whose stderr is kept; `line` resolves with the first match of `pattern`.
// `cwd`: the directory it runs in (relative paths it is given resolve there).
function spawnLogged(cmd, args, name, { cwd } = {}) {
  // Both streams are kept: llmux writes to stderr, redis-server to stdout.
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  const state = { stderr: '' };
  const keep = (chunk) => {
    state.stderr += chunk;
    if (process.env.LLMUX_E2E_VERBOSE) process.stderr.write(`[${name}] ${chunk}`);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    log: () => state.stderr,
    line(pattern, ms = 60000) {
      return waitFor(`${name}: ${pattern}`, () => pattern.exec(state.stderr) ?? (child.exitCode !== null
        ? Promise.reject(new Error(`${name} exited (${child.exitCode}):\n${state.stderr}`)) : null), ms);
    },
    // SIGTERM (or `signal`); resolves with the exit code and signal.
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

// etcd on free ports with its own data directory (kept across stop/start, as a restart).
export async function startEtcd() {
  const dir = mkdtempSync(join(tmpdir(), 'llmux-e2e-etcd-'));
  const client = await freePort();
  const peer = await freePort();
  const args = ['--name', 'n1', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `n1=http://127.0.0.1:${peer}`];
  const etcd = {
    endpoint: `127.0.0.1:${client}`,
    proc: null,
    async start() {
      this.proc = spawnLogged('etcd', args, 'etcd');
      await waitFor('etcd health', async () => (await fetch(`http://127.0.0.1:${client}/health`)).ok);
    },
    async stop(signal = 'SIGKILL') { if (this.proc) await this.proc.stop(signal); this.proc = null; },
    async remove() { await this.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
  await etcd.start();
  return etcd;
}

export async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'llmux-e2e-redis-'));
  const port = await freePort();
  const proc = spawnLogged('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir,
    '--save', '', '--appendonly', 'no'], 'redis');
  await proc.line(/Ready to accept connections/);
  return {
    address: `127.0.0.1:${port}`,
    async stop() { await proc.stop('SIGKILL'); rmSync(dir, { recursive: true, force: true }); },
  };
}

// `llmux worker` serving `models` (NAME=FILE); resolves once it is ready. `args`: more flags;
// `cwd`: its working directory.
export async function startWorker(models, args = [], name = 'worker', { cwd } = {}) {
  const argv = ['worker', '--host', '127.0.0.1', '--port', '0', '-t', '1', ...args];
  for (const m of models) argv.push('--model', m);
  // (A relative binary path is the test's, not the worker's directory.)
  const proc = spawnLogged(BIN.includes('/') ? resolve(BIN) : BIN, argv, name, { cwd });
  const [, port] = await proc.line(/worker gRPC on 127\.0\.0\.1:(\d+)/);
  await proc.line(/llmux: worker ready/);
  return { ...proc, address: `127.0.0.1:${port}`, port: Number(port) };
}

// `llmux gateway` with authentication off unless `auth`; resolves once /health answers 200.
export async function startGateway(args = [], { auth = false, name = 'gateway' } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'llmux-e2e-gw-'));
  const argv = ['gateway', '--host', '127.0.0.1', '--port', '0', '--grpc-port', '0', '--data-dir', dataDir,
    ...(auth ? [] : ['--no-auth']), ...args];
  const proc = spawnLogged(BIN, argv, name);
  const [, port] = await proc.line(/HTTP on http:\/\/127\.0\.0\.1:(\d+)/);
  const baseURL = `http://127.0.0.1:${port}`;
  await waitFor(`${name} /health`, async () => (await fetch(`${baseURL}/health`)).status === 200);
  const adminKey = /admin API key[\s\S]*?(llmux_[a-z2-7]{12}_[0-9A-Za-z]{43})/.exec(proc.log())?.[1];
  return {
    ...proc,
    baseURL,
    dataDir,
    adminKey,
    async stop(signal) { const r = await proc.stop(signal); rmSync(dataDir, { recursive: true, force: true }); return r; },
  };
}

// A counter of the gateway's Prometheus text, summed over the samples matching `labels`.
export async function metric(baseURL, name, labels = {}, headers = {}) {
  const text = await (await fetch(`${baseURL}/metrics`, { headers })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}
