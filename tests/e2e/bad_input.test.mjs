// Bad input against a running llmux serve: each request gets a clear 4xx (OpenAI's error
// shape) or is closed, and the server keeps serving others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';

const base = process.env.LLMUX_BASE_URL;
const model = process.env.LLMUX_MODEL;
const { hostname, port } = new URL(base);

async function post(path, body, headers = {}) {
  const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

async function assertServing() {
  const r = await post('/v1/completions', JSON.stringify({ model, prompt: 'Once', max_tokens: 2, temperature: 0 }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.usage.completion_tokens, 2);
}

function assertError(r, status, param) {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
  assert.equal(typeof r.json.error.type, 'string');
  assert.ok('param' in r.json.error && 'code' in r.json.error);
  if (param !== undefined) assert.equal(r.json.error.param, param);
}

const msgs = [{ role: 'user', content: 'hi' }];

test('malformed JSON and wrong types get 400', async () => {
  assertError(await post('/v1/chat/completions', '{"model": "x", "messages": ['), 400);
  assertError(await post('/v1/chat/completions', 'null'), 400);
  assertError(await post('/v1/chat/completions', JSON.stringify({ model, messages: 'hi' })), 400, 'messages');
  assertError(await post('/v1/chat/completions', JSON.stringify({ model, messages: msgs, temperature: 'hot' })), 400, 'temperature');
  assertError(await post('/v1/chat/completions', JSON.stringify({ model, messages: msgs, stream: 1 })), 400, 'stream');
  assertError(await post('/v1/chat/completions', JSON.stringify({ model: ['a'], messages: msgs })), 400, 'model');
  await assertServing();
});

// JSON nested past llmux's limit of 128 arrays/objects: answered with the protocol's error, never
// parsed into something that recursion (copying, dumping) would walk off the stack.
test('JSON nested too deep gets 400 / -32700 naming the limit on every route, and the server lives', async () => {
  const deep = (n) => '['.repeat(n) + ']'.repeat(n);
  const chat = (content) => `{"model":"${model}","messages":[{"role":"user","content":${content}}],"max_tokens":2}`;
  // The reported crash: 200,000 levels inside a parsed field.
  let r = await post('/v1/chat/completions', chat(deep(200000)));
  assertError(r, 400);
  assert.match(r.json.error.message, /nested deeper than 128 levels/);
  // At the limit the document parses (and content of nested arrays is then the wrong type); one
  // more level is refused before parsing. The body adds 3 levels: {, messages [, message {.
  r = await post('/v1/chat/completions', chat(deep(125)));
  assertError(r, 400);
  assert.doesNotMatch(r.json.error.message, /nested deeper/);
  r = await post('/v1/chat/completions', chat(deep(126)));
  assertError(r, 400);
  assert.match(r.json.error.message, /nested deeper than 128 levels/);
  // Objects count as arrays do; brackets inside strings do not.
  const objects = '{"a":'.repeat(1000) + '1' + '}'.repeat(1000);
  for (const path of ['/v1/completions', '/v1/chat/completions']) {
    r = await post(path, `{"model":"${model}","prompt":"x","input":"x","x":${objects}}`);
    assertError(r, 400);
    assert.match(r.json.error.message, /nested deeper than 128 levels/, path);
  }
  r = await post('/v1/completions', JSON.stringify({ model, prompt: deep(129), max_tokens: 2, temperature: 0 }));
  assert.equal(r.status, 200, 'brackets inside a string are text: ' + r.text);
  // A tool schema nested too deep, and one deep inside a tool call's arguments string (parsed
  // later, when the chat template renders it): no crash, a clear answer.
  const tools = `[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":${objects}}}}}]`;
  r = await post('/v1/chat/completions', `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"tools":${tools}}`);
  assertError(r, 400);
  r = await post('/v1/chat/completions', JSON.stringify({ model, max_tokens: 2, temperature: 0, messages: [
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: deep(200000) } }] },
    { role: 'tool', tool_call_id: 'c1', content: 'ok' },
  ] }));
  assert.ok(r.status === 200 || r.status === 400, r.text);
  // MCP over HTTP: a JSON-RPC parse error.
  r = await post('/mcp', `{"jsonrpc":"2.0","id":1,"method":"ping","params":${objects}}`,
    { accept: 'application/json, text/event-stream' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.code, -32700);
  assert.match(r.json.error.message, /nested deeper than 128 levels/);
  await assertServing();
});

// This server runs with --no-auth on loopback: a web page on another site must not be able to
// drive it through the user's browser (foreign Origin, rebound Host, or a body a page can send
// cross-site without a CORS preflight).
test('with auth off, browser requests from other sites are refused on every route', async () => {
  const completion = JSON.stringify({ model, prompt: 'Once', max_tokens: 2, temperature: 0 });
  // Raw HTTP, so that Host can be set as a rebinding attack would.
  const raw = (path, headers, body) => new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method: 'POST', path, headers: { 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => { let json = null; try { json = JSON.parse(text); } catch { /* not JSON */ } resolve({ status: res.statusCode, json, text }); });
    });
    req.on('error', reject);
    req.end(body);
  });
  const json = { 'content-type': 'application/json' };
  for (const origin of ['http://evil.example', 'http://127.0.0.1.evil.com', 'null', 'http://localhost.evil.com:8080']) {
    const r = await post('/v1/completions', completion, { origin });
    assertError(r, 403);
    assert.equal(r.json.error.type, 'permission_error', origin);
  }
  for (const [host, origin] of [['127.0.0.1.evil.com', 'http://127.0.0.1.evil.com'], ['localhost.evil.com:80', undefined],
    ['app.localhost', 'http://app.localhost'], ['evil.com@127.0.0.1', undefined]]) {
    const headers = { ...json, host, ...(origin ? { origin } : {}) };
    assertError(await raw('/v1/completions', headers, completion), 403);
    const m = await raw('/mcp', { ...headers, accept: 'application/json, text/event-stream' }, '{"jsonrpc":"2.0","id":1,"method":"ping"}');
    assert.equal(m.status, 403, host + ': ' + m.text);
    assert.equal(m.json.error.code, -32600);
  }
  // Bodies a page may POST anywhere without a preflight.
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
    const r = await raw('/v1/completions', type ? { 'content-type': type } : {}, completion);
    assertError(r, 400);
    assert.match(r.json.error.message, /Content-Type must be application\/json/, type);
  }
  // This machine's own pages, and clients that are not browsers, still work.
  for (const headers of [{ origin: 'http://localhost:5173' }, { origin: 'http://127.0.0.1:3000' }, { origin: 'http://[::1]:8080' },
    { 'content-type': 'application/json; charset=utf-8' }]) {
    const r = await post('/v1/completions', completion, headers);
    assert.equal(r.status, 200, JSON.stringify(headers) + ': ' + r.text);
  }
  await assertServing();
});

test('negative, zero and huge max_tokens get 400', async () => {
  for (const v of [-1, 0, 1e12, 2 ** 31]) {
    assertError(await post('/v1/chat/completions', JSON.stringify({ model, messages: msgs, max_tokens: v })), 400, 'max_tokens');
  }
  await assertServing();
});

test('a prompt longer than the context gets 400', async () => {
  const r = await post('/v1/completions', JSON.stringify({ model, prompt: 'time '.repeat(2000), max_tokens: 4 }));
  assertError(r, 400);
  assert.match(r.json.error.message, /context/);
  await assertServing();
});

test('unknown model gets 404, unknown route 404, wrong method 405', async () => {
  assertError(await post('/v1/chat/completions', JSON.stringify({ model: 'nope', messages: msgs })), 404, 'model');
  const r = await fetch(base + '/v2/nothing');
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.type, 'invalid_request_error');
  const m = await fetch(base + '/v1/chat/completions');
  assert.equal(m.status, 405);
});

test('a 20 MB body gets 413 or a closed connection', async () => {
  const big = JSON.stringify({ model, messages: [{ role: 'user', content: 'x'.repeat(20 * 1024 * 1024) }] });
  try {
    const r = await post('/v1/chat/completions', big);
    assert.equal(r.status, 413);
  } catch (e) {
    // The server may close the connection while the client is still sending.
    assert.ok(/fetch failed|socket|ECONNRESET|EPIPE/i.test(String(e.cause ?? e)), String(e));
  }
  await assertServing();
});

test('headers sent one byte a second are cut off', { timeout: 60000 }, async () => {
  const sock = net.connect(Number(port), hostname);
  await new Promise((r) => sock.once('connect', r));
  const request = `GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`;
  let closed = false;
  let reply = '';
  sock.on('data', (d) => { reply += d; });
  sock.on('close', () => { closed = true; });
  sock.on('error', () => { closed = true; });
  const t0 = Date.now();
  for (let i = 0; i < request.length && !closed; ++i) {
    sock.write(request[i]);
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(closed, 'the connection should have been closed');
  const elapsed = (Date.now() - t0) / 1000;
  assert.ok(elapsed < 40, `closed after ${elapsed} s`);
  assert.ok(reply === '' || /^HTTP\/1\.1 408/.test(reply), reply);
  await assertServing();
});

test('500 idle connections from one address hold only its share and do not stop the server', { timeout: 60000 }, async () => {
  // From 127.0.0.2, so that this client's share is its own: the rest of the file, from
  // 127.0.0.1, must not notice it.
  const SHARE = 256;  // --connections-per-address, default
  const socks = [];
  try {
    for (let i = 0; i < 500; ++i) {
      const s = net.connect({ port: Number(port), host: hostname, localAddress: '127.0.0.2' });
      s.on('error', () => {});
      s.received = '';
      s.on('data', (d) => { s.received += d; });
      socks.push(s);
    }
    await Promise.all(socks.map((s) => new Promise((r) => { s.once('connect', r); s.once('error', r); s.once('close', r); })));
    await assertServing();
    const r = await fetch(base + '/v1/models');
    assert.equal(r.status, 200);
    // The server has answered every one over the share with 503 and closed it; the others wait
    // for their request (for the 10 s header timeout).
    const deadline = Date.now() + 10000;
    const open = () => socks.filter((s) => !s.closed && !s.destroyed);
    while (open().length > SHARE && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    assert.equal(open().length, SHARE);
    const answered = socks.filter((s) => s.received.startsWith('HTTP/1.1 503'));
    assert.ok(answered.length > 0);
    assert.match(answered[0].received, /this address has too many open connections/);
  } finally {
    for (const s of socks) s.destroy();
  }
});

test('a client that disconnects mid-stream does not hurt the server', async () => {
  const ctrl = new AbortController();
  const r = await fetch(base + '/v1/completions', {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: ctrl.signal,
    body: JSON.stringify({ model, prompt: 'Once upon a time', max_tokens: 400, stream: true }),
  });
  const reader = r.body.getReader();
  await reader.read();
  ctrl.abort();
  await assertServing();
  const metrics = await (await fetch(base + '/metrics')).text();
  assert.match(metrics, /llmux_requests_total\{[^}]*finish_reason="cancelled"[^}]*\} [1-9]/);
});

test('/health and /metrics', async () => {
  const h = await fetch(base + '/health');
  assert.equal(h.status, 200);
  const m = await (await fetch(base + '/metrics')).text();
  for (const name of ['llmux_time_to_first_token_seconds_bucket', 'llmux_inter_token_latency_seconds_bucket',
    'llmux_request_duration_seconds_bucket', 'llmux_prompt_tokens_total', 'llmux_generation_tokens_total',
    'llmux_requests_running', 'llmux_requests_waiting']) {
    assert.ok(m.includes(name), `missing ${name}`);
  }
  assert.match(m, new RegExp(`llmux_generation_tokens_total\\{model="${model}"\\} [1-9]`));
});
