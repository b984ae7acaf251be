// End-to-end test of MCP over gRPC (proto/llmux/v1/mcp.proto) with the official Node client
// (@grpc/grpc-js, the proto loaded at run time by @grpc/proto-loader) against a running
// `llmux serve` without authentication.
//
// Environment (set by run.mjs):
//   LLMUX_GRPC_ADDR      host:port of the gRPC listener
//   LLMUX_MODEL          the served name of stories260K.gguf
//   LLMUX_HTTP_ADDR      host:port of the same server's HTTP listener: the cancellation test
//                        reads /metrics to see the generation cancelled
// The greedy text must equal llama.cpp's continuation in ../shared/vectors/stories260K.json.
//
// Run: LLMUX_BIN=build/src/cli/llmux LLMUX_SHARED_DIR=../shared node tests/e2e/run.mjs tests/e2e/mcp_grpc.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { referenceContinuation } from './server.mjs';

const ADDR = process.env.LLMUX_GRPC_ADDR;
const HTTP_ADDR = process.env.LLMUX_HTTP_ADDR;
const MODEL = process.env.LLMUX_MODEL;
const PROMPT = 'Once upon a time';
const EXPECTED = referenceContinuation(PROMPT);
const TEST_TIMEOUT_MS = 60_000;

const protoRoot = fileURLToPath(new URL('../../proto', import.meta.url));

function loadMcpService() {
  const definition = protoLoader.loadSync('llmux/v1/mcp.proto', {
    includeDirs: [protoRoot],
    keepCase: true,
    defaults: true,
  });
  return grpc.loadPackageDefinition(definition).llmux.v1.Mcp;
}

const deadlineIn = (ms) => new Date(Date.now() + ms);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One unary Call: resolves with { messages (parsed), session_id }.
function call(client, message, extra = {}) {
  const json = typeof message === 'string' ? message : JSON.stringify(message);
  return new Promise((resolve, reject) => {
    client.Call({ message: { json }, ...extra }, { deadline: deadlineIn(30_000) }, (err, res) => {
      if (err) return reject(err);
      resolve({ messages: res.messages.map((m) => JSON.parse(m.json)), session_id: res.session_id });
    });
  });
}

// A Session stream with a promise-based reader.
function openSession(client) {
  const stream = client.Session({ deadline: deadlineIn(60_000) });
  const queue = [];
  const waiters = [];
  let ended = false;
  const status = new Promise((resolve) => stream.on('status', resolve));
  const deliver = (item) => {
    const waiter = waiters.shift();
    if (waiter) waiter(item);
    else queue.push(item);
  };
  stream.on('data', (m) => deliver(JSON.parse(m.json)));
  stream.on('end', () => {
    ended = true;
    while (waiters.length) waiters.shift()(null);
  });
  stream.on('error', () => {
    ended = true;
    while (waiters.length) waiters.shift()(null);
  });
  return {
    stream,
    status,
    send(message) {
      stream.write({ json: typeof message === 'string' ? message : JSON.stringify(message) });
    },
    // The next message, or null once the stream has ended.
    next() {
      if (queue.length) return Promise.resolve(queue.shift());
      if (ended) return Promise.resolve(null);
      return new Promise((resolve) => waiters.push(resolve));
    },
    // Every message up to the response to `id`: { before: [...], response }.
    async until(id) {
      const seen = [];
      for (;;) {
        const m = await this.next();
        if (m === null) return { before: seen, response: null };
        if (m.id === id && !('method' in m)) return { before: seen, response: m };
        seen.push(m);
      }
    },
  };
}

const initialize = (id) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'llmux-e2e-grpc', version: '1.0.0' },
  },
});

const greedyComplete = (id, meta = undefined) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {
    name: 'complete',
    arguments: { model: MODEL, prompt: PROMPT, max_tokens: 64, temperature: 0 },
    ...(meta ? { _meta: meta } : {}),
  },
});

// The server's request counters for MODEL from its Prometheus text.
async function requestMetrics() {
  const response = await fetch(`http://${HTTP_ADDR}/metrics`);
  assert.equal(response.status, 200);
  const metrics = { cancelled: 0, running: 0 };
  for (const line of (await response.text()).split('\n')) {
    const m = line.match(/^(\w+)\{([^}]*)\}\s+(\S+)/);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.model !== MODEL) continue;
    if (m[1] === 'llmux_requests_total' && labels.finish_reason === 'cancelled') metrics.cancelled += Number(m[3]);
    if (m[1] === 'llmux_requests_running') metrics.running += Number(m[3]);
  }
  return metrics;
}

describe('MCP over gRPC (llmux.v1.Mcp)', () => {
  let client;

  before(async () => {
    const Mcp = loadMcpService();
    client = new Mcp(ADDR, grpc.credentials.createInsecure());
    await new Promise((resolve, reject) =>
      client.waitForReady(deadlineIn(30_000), (e) => (e ? reject(e) : resolve())));
  });

  after(() => client?.close());

  test('Call: initialize opens a session that tools/list then uses', { timeout: TEST_TIMEOUT_MS }, async () => {
    const init = await call(client, initialize(1));
    assert.equal(init.messages.length, 1);
    assert.equal(init.messages[0].result.protocolVersion, '2025-11-25');
    assert.match(init.session_id, /^[0-9a-f]{64}$/);

    const initialized = await call(client, { jsonrpc: '2.0', method: 'notifications/initialized' },
      { session_id: init.session_id });
    assert.deepEqual(initialized.messages, []);

    const list = await call(client, { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { session_id: init.session_id });
    assert.equal(list.session_id, init.session_id);
    const names = list.messages[0].result.tools.map((t) => t.name);
    for (const name of ['chat', 'complete', 'list_models', 'model_info']) assert.ok(names.includes(name), name);

    const end = await new Promise((resolve, reject) =>
      client.Call({ session_id: init.session_id, end_session: true }, (e, r) => (e ? reject(e) : resolve(r))));
    assert.deepEqual(end.messages, []);
    await assert.rejects(call(client, { jsonrpc: '2.0', id: 3, method: 'ping' }, { session_id: init.session_id }),
      (e) => e.code === grpc.status.NOT_FOUND);
  });

  test('Call: malformed JSON is a JSON-RPC parse error', { timeout: TEST_TIMEOUT_MS }, async () => {
    const bad = await call(client, '{"jsonrpc": "2.0", "id": ');
    assert.equal(bad.messages.length, 1);
    assert.equal(bad.messages[0].error.code, -32700);
    assert.ok(!('id' in bad.messages[0]), 'no id could be read');
    const invalid = await call(client, { jsonrpc: '2.0', id: 'x', method: 42 });
    assert.equal(invalid.messages[0].error.code, -32600);
  });

  test('Session: complete on stories260K streams progress, and its text equals the Call result',
    { timeout: TEST_TIMEOUT_MS }, async () => {
      const s = openSession(client);
      s.send('not json at all');
      const parseError = await s.next();
      assert.equal(parseError.error.code, -32700);

      s.send(initialize(1));
      const init = await s.until(1);
      assert.equal(init.response.result.serverInfo.name, 'llmux');
      s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });

      s.send(greedyComplete(2, { progressToken: 'story' }));
      const { before, response } = await s.until(2);
      assert.ok(response?.result, JSON.stringify(response));
      const text = response.result.structuredContent.text;
      assert.equal(response.result.content[0].text, text);
      assert.ok(text.length > 0);

      // Progress: one per token, counting up, carrying the new text.
      const progress = before.filter((m) => m.method === 'notifications/progress');
      assert.equal(progress.length, before.length, 'only progress before the result');
      assert.ok(progress.length >= 2, `${progress.length} progress notification(s)`);
      progress.forEach((m, i) => {
        assert.equal(m.params.progressToken, 'story');
        assert.equal(m.params.progress, i + 1);
        assert.equal(m.params.total, 64);
      });
      assert.equal(progress.map((m) => m.params.message ?? '').join(''), text);

      // The same greedy request through a stateless unary Call gives the same text.
      const unary = await call(client, greedyComplete(3));
      assert.equal(unary.messages.length, 1, 'no progress without a progressToken');
      assert.equal(unary.messages[0].result.structuredContent.text, text);

      assert.equal(text, EXPECTED);

      s.stream.end();  // half-close: the server ends the stream once nothing is in flight
      assert.equal((await s.status).code, grpc.status.OK);
    });

  test('Session: cancelling the stream stops the generation', { timeout: TEST_TIMEOUT_MS }, async () => {
    const beforeMetrics = await requestMetrics();
    const s = openSession(client);
    s.send(initialize(1));
    await s.until(1);
    // A generation that runs until the context is full.
    s.send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: {
        name: 'complete',
        arguments: { model: MODEL, prompt: PROMPT, temperature: 1, seed: 5 },
        _meta: { progressToken: 1 },
      },
    });
    const first = await s.next();
    assert.equal(first.method, 'notifications/progress');
    s.stream.cancel();
    assert.equal((await s.status).code, grpc.status.CANCELLED);

    let after = await requestMetrics();
    for (let i = 0; i < 50 && (after.cancelled <= beforeMetrics.cancelled || after.running > 0); ++i) {
      await sleep(100);
      after = await requestMetrics();
    }
    assert.ok(after.cancelled > beforeMetrics.cancelled,
      `cancelled ${beforeMetrics.cancelled} -> ${after.cancelled}`);
    assert.equal(after.running, 0);

    // And the server still answers.
    const ping = await call(client, { jsonrpc: '2.0', id: 9, method: 'ping' });
    assert.deepEqual(ping.messages[0], { jsonrpc: '2.0', id: 9, result: {} });
  });
});
