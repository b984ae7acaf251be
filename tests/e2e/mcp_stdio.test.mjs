// `llmux mcp --stdio` driven by the official MCP SDK's stdio client (@modelcontextprotocol/sdk):
// hosting stories260K itself, and forwarding to a `llmux serve` of its own (auth on, so the
// API key is forwarded too). Both must give the reference greedy continuation of `llmux run`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BIN, SHARED, makeTinyQwen3, referenceContinuation, startServer } from './server.mjs';

const stories = join(SHARED, 'models/stories260K.gguf');
const expected = referenceContinuation('Once upon a time');
// stories260K writes ~500 tokens in a blink; the random-weight Qwen3 never stops before its
// 4096-token context is full (seconds): the model for calls that must still be running.
const work = mkdtempSync(join(tmpdir(), 'llmux-e2e-mcp-stdio-'));
const slowModel = `slow=${makeTinyQwen3(work)}`;
after(() => rmSync(work, { recursive: true, force: true }));
const hostArgs = ['--model', `stories=${stories}`, '--model', slowModel, '-t', '1'];
const completeArgs = { model: 'stories', prompt: 'Once upon a time', max_tokens: 64, temperature: 0 };
const slowArgs = { model: 'slow', prompt: 'Once upon a time', max_tokens: 100000, temperature: 0 };

// Starts `llmux mcp --stdio ARGS` under the SDK's stdio client; stderr is collected.
async function connect(args, env = {}) {
  const transport = new StdioClientTransport({
    command: BIN,
    args: ['mcp', '--stdio', ...args],
    env: { LLMUX_LOG_LEVEL: 'info', ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr.on('data', (chunk) => { stderr += chunk; });
  const client = new Client({ name: 'llmux-e2e', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (e) {
    await transport.close().catch(() => {});
    e.stderr = stderr;
    throw e;
  }
  return { client, transport, stderr: () => stderr };
}

// Progress of the greedy completion: numbered 1, 2, ... of 64, the new text in each message.
function checkProgress(progress, { prefixOnly }) {
  assert.deepEqual(progress.map((p) => p.progress), progress.map((_, i) => i + 1));
  for (const p of progress) assert.equal(p.total, 64);
  const text = progress.map((p) => p.message ?? '').join('');
  if (prefixOnly) {
    assert.ok(expected.startsWith(text), text);
  } else {
    assert.ok(progress.length > 0 && progress.length <= 64, `${progress.length} progress notifications`);
    assert.equal(text, expected);
  }
}

// The checks both modes must pass.
async function checkGreedyCompletion(client) {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const name of ['chat', 'complete', 'list_models', 'model_info']) assert.ok(names.includes(name), names.join());

  const progress = [];
  const r = await client.callTool({ name: 'complete', arguments: completeArgs }, undefined, {
    onprogress: (p) => progress.push(p),
  });
  assert.equal(r.isError, undefined, JSON.stringify(r));
  assert.equal(r.content[0].type, 'text');
  assert.equal(r.content[0].text, expected);
  assert.equal(r.structuredContent.text, expected);
  assert.equal(r.structuredContent.finish_reason, 'length');
  assert.equal(r.structuredContent.usage.completion_tokens, 64);
  // The SDK handles notifications a tick after responses, so progress that arrives in the same
  // read as the result is dropped as "unknown token": what got through is a prefix.
  checkProgress(progress, { prefixOnly: true });

  const models = await client.callTool({ name: 'list_models', arguments: {} });
  assert.deepEqual(models.structuredContent.models.map((m) => m.name).sort(), ['slow', 'stories']);
  await client.ping();
}

// Counters of a server's /metrics: requests running, requests that ended cancelled, and the
// tokens the slow model generated.
async function counters(server) {
  const r = await fetch(`${server.baseURL}/metrics`, { headers: { Authorization: `Bearer ${server.adminKey}` } });
  assert.equal(r.status, 200);
  const text = await r.text();
  const sum = (re) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  return {
    running: sum(/^llmux_requests_running(?:\{[^}]*\})? (\S+)$/gm),
    cancelled: sum(/^llmux_requests_total\{[^}]*finish_reason="cancelled"[^}]*\} (\S+)$/gm),
    slowTokens: sum(/^llmux_generation_tokens_total\{model="slow"\} (\S+)$/gm),
  };
}
const running = async (server) => (await counters(server)).running;

// A slow call that stopped early, without a clock: the slow model would write ~4,090 tokens
// before its context is full; cancelled at once, it writes far fewer (a loaded machine slows
// both the same way).
const STOPPED_EARLY = 2048;

// The server's slow generation ended cancelled, early (polls; the deadline is only a backstop).
async function checkStoppedEarly(server, before) {
  await waitUntil(async () => (await running(server)) === 0, 60000, 'the generation to stop');
  const after = await counters(server);
  assert.equal(after.cancelled - before.cancelled, 1, 'one request ended cancelled');
  assert.ok(after.slowTokens - before.slowTokens < STOPPED_EARLY, `${after.slowTokens - before.slowTokens} tokens generated`);
}

async function waitUntil(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A long generation and a ping behind it: the ping must not wait for the generation (it is
// answered while the generation still runs), and the cancelled call must fail while the
// connection goes on. With `server` (forwarding), the server's generation must stop too.
async function checkCancelAndConcurrency(client, server = null) {
  const abort = new AbortController();
  let progressed;
  const started = new Promise((resolve) => { progressed = resolve; });
  // (Forwarded without progress: the server's SSE writer fails on the random model's invalid
  // UTF-8 in progress messages.)
  const options = { signal: abort.signal, timeout: 120000, ...(server ? {} : { onprogress: () => progressed() }) };
  const long = client.callTool({ name: 'complete', arguments: slowArgs }, undefined, options);
  let settled = false;
  long.then(() => { settled = true; }, () => { settled = true; });
  const before = server ? await counters(server) : null;
  // Forwarded progress arrives only with the result: there, wait for the server instead.
  if (server) await waitUntil(async () => (await running(server)) > 0, 60000, 'the generation to start');
  else await started;
  await client.ping();
  assert.equal(settled, false, 'the ping was answered only after the generation');
  if (server) assert.equal(await running(server), 1, 'the generation still runs after the ping');
  abort.abort('test');
  await assert.rejects(long);
  if (server) await checkStoppedEarly(server, before);
  const r = await client.callTool({ name: 'complete', arguments: { ...completeArgs, max_tokens: 4 } });
  assert.equal(r.structuredContent.usage.completion_tokens, 4);
}

describe('llmux mcp --stdio hosting the model', () => {
  let conn;
  before(async () => { conn = await connect(hostArgs); });
  after(async () => { await conn?.transport.close(); });

  test('initialize negotiates and names the server', () => {
    assert.equal(conn.client.getServerVersion().name, 'llmux');
    assert.ok(conn.client.getServerCapabilities().tools);
  });
  test('complete equals llmux run, with progress per token', () => checkGreedyCompletion(conn.client));
  test('a slow call blocks neither ping nor its cancellation', () => checkCancelAndConcurrency(conn.client));
  test('resources and prompts are served too', async () => {
    const { resources } = await conn.client.listResources();
    assert.ok(resources.some((r) => r.uri === 'llmux://models/stories'), JSON.stringify(resources));
    const card = await conn.client.readResource({ uri: 'llmux://models/stories' });
    assert.equal(JSON.parse(card.contents[0].text).name, 'stories');
    const { prompts } = await conn.client.listPrompts();
    assert.ok(prompts.length > 0);
  });
  test('nothing but protocol messages on stdout: logs are on stderr', () => {
    // The SDK fails the connection on a line that is not JSON-RPC; stderr has the log.
    assert.match(conn.stderr(), /loading model/);
  });
});

// Spawns `llmux mcp --stdio ARGS` without the SDK, to see the exact lines and the exit code.
function spawnRaw(args, env = {}) {
  const child = spawn(BIN, ['mcp', '--stdio', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  const lines = [];
  const waiters = [];
  child.stdout.on('data', (chunk) => {
    out += chunk;
    let nl;
    while ((nl = out.indexOf('\n')) >= 0) {
      lines.push(out.slice(0, nl));
      out = out.slice(nl + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += c; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child, lines, exited, stderr: () => stderr,
    send: (obj) => child.stdin.write((typeof obj === 'string' ? obj : JSON.stringify(obj)) + '\n'),
    async waitFor(pred, ms = 10000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = lines.map((l) => JSON.parse(l)).find(pred);
        if (found) return found;
        if (Date.now() > deadline) throw new Error('timed out; got:\n' + lines.join('\n') + '\nstderr:\n' + stderr);
        await new Promise((r) => { waiters.push(r); setTimeout(r, 100); });
      }
    },
    async initialize() {
      this.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
      const r = await this.waitFor((m) => m.id === 1);
      assert.equal(r.result?.protocolVersion, '2025-11-25', JSON.stringify(r));
      this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    },
  };
}

// The greedy completion as request `id`, with a progress token: every progress notification
// comes before the result, and together they carry its text.
async function checkRawCompletion(p, id) {
  p.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'complete', arguments: completeArgs, _meta: { progressToken: `t${id}` } } });
  const r = await p.waitFor((m) => m.id === id);
  assert.equal(r.result.structuredContent.text, expected, JSON.stringify(r));
  const messages = p.lines.map((l) => JSON.parse(l));
  const at = messages.findIndex((m) => m.id === id);
  const progress = messages.filter((m) => m.params?.progressToken === `t${id}`);
  assert.ok(messages.slice(at).every((m) => m.params?.progressToken !== `t${id}`), 'progress after the result');
  checkProgress(progress.map((m) => m.params), { prefixOnly: false });
}

// Every line on stdout is one JSON-RPC message.
function checkLines(p) {
  for (const l of p.lines) assert.equal(JSON.parse(l).jsonrpc, '2.0', l);
}

describe('llmux mcp --stdio raw protocol (hosting)', () => {
  test('parse errors and invalid requests get JSON-RPC errors, and the connection goes on', async () => {
    const p = spawnRaw(hostArgs);
    p.send('{not json');
    const parseError = await p.waitFor((m) => m.error?.code === -32700);
    assert.equal(parseError.id, undefined);  // MCP's schema has no null ids
    p.send({ jsonrpc: '2.0', id: 5, method: 7 });
    assert.equal((await p.waitFor((m) => m.id === 5)).error.code, -32600);
    p.send([{ jsonrpc: '2.0', id: 6, method: 'ping' }]);
    assert.equal((await p.waitFor((m) => m.error?.code === -32600 && m.id === undefined)).error.code, -32600);
    await p.initialize();
    p.send({ jsonrpc: '2.0', id: 7, method: 'ping' });
    assert.deepEqual((await p.waitFor((m) => m.id === 7)).result, {});
    await checkRawCompletion(p, 8);
    p.child.stdin.end();
    assert.equal(await p.exited, 0, p.stderr());
    checkLines(p);
  });

  test('the end of input mid-call cancels it and exits 0 at once', async () => {
    const p = spawnRaw(hostArgs);
    await p.initialize();
    p.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'complete', arguments: slowArgs, _meta: { progressToken: 'p' } } });
    await p.waitFor((m) => m.method === 'notifications/progress');
    p.child.stdin.end();
    assert.equal(await p.exited, 0, p.stderr());
    // It exited without finishing the generation: one progress notification per token.
    const progress = p.lines.filter((l) => JSON.parse(l).method === 'notifications/progress').length;
    assert.ok(progress < STOPPED_EARLY, `${progress} tokens were generated before the exit`);
    assert.ok(!p.lines.some((l) => JSON.parse(l).id === 2), 'the cancelled call was answered');
    checkLines(p);
  });
});

describe('llmux mcp --stdio forwarding to llmux serve', () => {
  let server;
  let conn;
  before(async () => {
    server = await startServer([`stories=${stories}`, slowModel], [], { auth: true });
    conn = await connect(['--url', `${server.baseURL}/mcp`], { LLMUX_API_KEY: server.adminKey });
  });
  after(async () => {
    await conn?.transport.close();
    if (server) assert.equal(await server.stop(), 0);
  });

  test('complete equals llmux run through the server', () => checkGreedyCompletion(conn.client));
  test('a slow call blocks neither ping nor its cancellation, which reaches the server',
    () => checkCancelAndConcurrency(conn.client, server));
  test('progress and the result come through, one message per line', async () => {
    const p = spawnRaw(['--url', `${server.baseURL}/mcp`], { LLMUX_API_KEY: server.adminKey });
    await p.initialize();
    await checkRawCompletion(p, 4);
    p.child.stdin.end();
    assert.equal(await p.exited, 0, p.stderr());
    checkLines(p);
  });
  test('the end of input mid-call ends the session, which stops the generation', async () => {
    const p = spawnRaw(['--url', `${server.baseURL}/mcp`], { LLMUX_API_KEY: server.adminKey });
    await p.initialize();
    const before = await counters(server);
    p.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'complete', arguments: slowArgs } });
    await waitUntil(async () => (await running(server)) > 0, 60000, 'the generation to start');
    p.child.stdin.end();
    assert.equal(await p.exited, 0, p.stderr());
    await checkStoppedEarly(server, before);
    assert.ok(!p.lines.some((l) => JSON.parse(l).id === 2), 'the cancelled call was answered');
    checkLines(p);
  });
  test('without the API key, initialize fails with the HTTP status', async () => {
    await assert.rejects(connect(['--url', `${server.baseURL}/mcp`]), (e) => {
      assert.match(String(e.message), /401/);
      return true;
    });
  });
  test('a request of a session the server does not know is an error naming the status', async () => {
    const p = spawnRaw(['--url', `${server.baseURL}/mcp`], { LLMUX_API_KEY: server.adminKey });
    p.send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });  // no initialize: no session
    const r = await p.waitFor((m) => m.id === 3);
    assert.equal(r.error.code, -32603);
    assert.match(r.error.message, /HTTP 400/);
    p.child.stdin.end();
    assert.equal(await p.exited, 0, p.stderr());
  });
  test('an unreachable server is a JSON-RPC error, not a hang', async () => {
    await assert.rejects(connect(['--url', 'http://127.0.0.1:9/mcp']), /cannot reach/);
  });
});
