// The request log end to end: a `llmux serve` of its own with auth on; OpenAI requests with the
// `openai` npm client (streamed and not, one that fails) and one gRPC Chat under a user's key;
// then /admin/v1/logs, its filters, /admin/v1/logs/stats and the CSV show them with the key,
// the model and the token counts the replies carried. Ollama API calls (npm `ollama`) under a
// key of their own are recorded the same way. A key without logs:read gets 403; bad
// parameters 400.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { SHARED, startServer } from './server.mjs';

const stories = join(SHARED, 'models/stories260K.gguf');
const MODEL = 'stories';
const dataRoot = mkdtempSync(join(tmpdir(), 'llmux-e2e-reqlog-'));
let server;
let admin;       // the admin key
let userKey;     // a key of a user with the built-in role "user" (no logs:read)
let userKeyId;
let userId;
const usages = [];  // the usage of each successful OpenAI reply, in order

async function call(path, key) {
  const r = await fetch(server.baseURL + path, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* CSV */ }
  return { status: r.status, headers: r.headers, json, text };
}

async function post(path, key, body) {
  const r = await fetch(server.baseURL + path, {
    method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

// The log is written in the background (in batches, at most half a second late): polls until
// `count` records of the user's key are there.
async function userRecords(count) {
  for (let i = 0; i < 100; ++i) {
    const r = await call(`/admin/v1/logs?key=${userKeyId}&limit=100`, admin);
    assert.equal(r.status, 200, r.text);
    if (r.json.data.length >= count) return r.json.data;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.fail(`fewer than ${count} records of the key arrived`);
}

before(async () => {
  server = await startServer([`${MODEL}=${stories}`], [], { auth: true, dataDir: join(dataRoot, 'data') });
  admin = server.adminKey;
  const u = await post('/admin/v1/users', admin, { name: 'ulla', password: 'pw-ulla-123456', roles: ['user'] });
  assert.equal(u.status, 201);
  userId = u.json.id;
  const k = await post('/admin/v1/keys', admin, { owner_user_id: userId, name: 'ulla-key' });
  assert.equal(k.status, 201);
  userKey = k.json.key;
  userKeyId = k.json.id;
});
after(async () => {
  if (server) await server.stop();
  rmSync(dataRoot, { recursive: true, force: true });
});

describe('request log', () => {
  test('OpenAI and gRPC requests are recorded with key, model, tokens and outcome', async () => {
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: userKey, maxRetries: 0 });
    const messages = [{ role: 'user', content: 'Once upon a time, a secret prompt' }];
    const whole = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 6, temperature: 0 });
    usages.push(whole.usage);
    const stream = await client.chat.completions.create(
      { model: MODEL, messages, max_tokens: 5, stream: true, stream_options: { include_usage: true } });
    let streamed = null;
    for await (const chunk of stream) if (chunk.usage) streamed = chunk.usage;
    assert.ok(streamed);
    usages.push(streamed);
    const completion = await client.completions.create({ model: MODEL, prompt: 'Once', max_tokens: 4 });
    usages.push(completion.usage);
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages }),
      (e) => e.status === 404);

    // One gRPC Chat, through the same hook.
    const protoRoot = fileURLToPath(new URL('../../proto', import.meta.url));
    const options = { includeDirs: [protoRoot], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
    const Inference = grpc.loadPackageDefinition(protoLoader.loadSync('llmux/v1/inference.proto', options)).llmux.v1.Inference;
    const grpcClient = new Inference(server.grpcAddr, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${userKey}`);
    const code = await new Promise((resolve) => {
      const c = grpcClient.Chat({ model: MODEL, messages: [{ role: 'user', content: 'Once' }], max_tokens: 3 }, md);
      c.on('data', () => {});
      c.on('error', () => {});
      c.on('status', (st) => resolve(st.code));
    });
    assert.equal(code, grpc.status.OK);
    grpcClient.close();

    const records = (await userRecords(5)).reverse();  // oldest first, as sent
    assert.equal(records.length, 5);
    for (const r of records) {
      assert.equal(r.key_id, userKeyId);
      assert.equal(r.user_id, userId);
      assert.equal(r.principal, `key:${userKeyId}`);
      assert.equal(r.client, '127.0.0.1');
      assert.equal('prompt' in r, false, 'no prompt text unless --request-log-prompts');
      assert.ok(r.latency_ms >= 0);
    }
    for (let i = 0; i < 3; ++i) {
      const r = records[i];
      assert.equal(r.model, MODEL);
      assert.equal(r.protocol, 'http');
      assert.equal(r.status, 200);
      assert.equal(r.error_class, null);
      assert.equal(r.prompt_tokens, usages[i].prompt_tokens);
      assert.equal(r.completion_tokens, usages[i].completion_tokens);
      assert.ok(r.ttft_ms !== null && r.ttft_ms <= r.latency_ms);
    }
    assert.equal(records[0].route, 'POST /v1/chat/completions');
    assert.equal(records[2].route, 'POST /v1/completions');
    assert.deepEqual([records[3].model, records[3].status, records[3].error_class, records[3].completion_tokens],
      ['no-such-model', 404, 'not_found', 0]);
    assert.deepEqual([records[4].protocol, records[4].route, records[4].status, records[4].model],
      ['grpc', '/llmux.v1.Inference/Chat', 0, MODEL]);
    assert.ok(records[4].completion_tokens > 0);
  });

  test('Ollama API calls are recorded with the token counts of their replies', async () => {
    const u = await post('/admin/v1/users', admin, { name: 'olga', password: 'pw-olga-123456', roles: ['user'] });
    assert.equal(u.status, 201);
    const k = await post('/admin/v1/keys', admin, { owner_user_id: u.json.id, name: 'olga-key' });
    assert.equal(k.status, 201);
    const ollama = new Ollama({ host: server.baseURL, headers: { Authorization: `Bearer ${k.json.key}` } });
    const chat = await ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'Once' }],
      stream: false, options: { num_predict: 4, temperature: 0 } });
    let last = null;
    for await (const part of await ollama.generate({ model: MODEL, prompt: 'Once upon', raw: true, stream: true,
      options: { num_predict: 3 } })) last = part;
    assert.ok(last?.done);
    let records = [];
    for (let i = 0; i < 100 && records.length < 2; ++i) {
      const r = await call(`/admin/v1/logs?key=${k.json.id}`, admin);
      assert.equal(r.status, 200, r.text);
      records = r.json.data;
      if (records.length < 2) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(records.length, 2);
    const [gen, ch] = records;  // newest first
    assert.deepEqual([ch.route, ch.status, ch.model, ch.prompt_tokens, ch.completion_tokens],
      ['POST /api/chat', 200, MODEL, chat.prompt_eval_count, chat.eval_count]);
    assert.deepEqual([gen.route, gen.status, gen.model, gen.prompt_tokens, gen.completion_tokens],
      ['POST /api/generate', 200, MODEL, last.prompt_eval_count, last.eval_count]);
  });

  test('Responses API calls are recorded with the token counts of their replies', async () => {
    const u = await post('/admin/v1/users', admin, { name: 'rita', password: 'pw-rita-123456', roles: ['user'] });
    assert.equal(u.status, 201);
    const k = await post('/admin/v1/keys', admin, { owner_user_id: u.json.id, name: 'rita-key' });
    assert.equal(k.status, 201);
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: k.json.key, maxRetries: 0 });
    const whole = await client.responses.create({ model: MODEL, input: 'Once', max_output_tokens: 4, temperature: 0 });
    let streamed = null;
    for await (const event of await client.responses.create(
      { model: MODEL, input: 'Once upon', max_output_tokens: 3, stream: true })) {
      if (event.response?.usage) streamed = event.response.usage;
    }
    assert.ok(streamed);
    let records = [];
    for (let i = 0; i < 100 && records.length < 2; ++i) {
      const r = await call(`/admin/v1/logs?key=${k.json.id}`, admin);
      assert.equal(r.status, 200, r.text);
      records = r.json.data;
      if (records.length < 2) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(records.length, 2);
    const [second, first] = records;  // newest first
    for (const [record, usage] of [[first, whole.usage], [second, streamed]]) {
      assert.deepEqual([record.route, record.status, record.model, record.prompt_tokens, record.completion_tokens],
        ['POST /v1/responses', 200, MODEL, usage.input_tokens, usage.output_tokens]);
    }
  });

  test('filters: status, model, time; pages by cursor', async () => {
    let r = await call(`/admin/v1/logs?key=${userKeyId}&status=error`, admin);
    assert.deepEqual(r.json.data.map((x) => x.model), ['no-such-model']);
    r = await call(`/admin/v1/logs?key=${userKeyId}&status=404`, admin);
    assert.equal(r.json.data.length, 1);
    r = await call(`/admin/v1/logs?user=${userId}&model=${MODEL}&status=ok`, admin);
    assert.equal(r.json.data.length, 4);
    const first = await call(`/admin/v1/logs?key=${userKeyId}&limit=2`, admin);
    assert.equal(first.json.has_more, true);
    const second = await call(`/admin/v1/logs?key=${userKeyId}&limit=2&cursor=${first.json.next_cursor}`, admin);
    assert.ok(second.json.data.every((x) => x.id < first.json.data[1].id));
    const future = new Date(Date.now() + 3600_000).toISOString();
    r = await call(`/admin/v1/logs?key=${userKeyId}&from=${encodeURIComponent(future)}`, admin);
    assert.deepEqual(r.json.data, []);
    r = await call(`/admin/v1/logs?key=${userKeyId}&from=${Date.now() - 3600_000}`, admin);
    assert.equal(r.json.data.length, 5);
  });

  test('stats per model and key; CSV export', async () => {
    let r = await call(`/admin/v1/logs/stats?group=model&key=${userKeyId}`, admin);
    assert.equal(r.status, 200, r.text);
    const stories = r.json.data.find((g) => g.group === MODEL);
    assert.equal(stories.requests, 4);
    assert.equal(stories.errors, 0);
    assert.equal(stories.prompt_tokens >= usages.reduce((s, u) => s + u.prompt_tokens, 0), true);
    assert.ok(stories.p50_latency_ms <= stories.p99_latency_ms);
    r = await call('/admin/v1/logs/stats?group=key', admin);
    assert.equal(r.json.data.find((g) => g.group === `key:${userKeyId}`).requests, 5);

    r = await call(`/admin/v1/logs.csv?key=${userKeyId}`, admin);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/csv/);
    const lines = r.text.split('\r\n').filter((l) => l !== '');
    assert.equal(lines.length, 6);
    assert.match(lines[0], /^id,time,protocol,route,principal,user_id,key_id,model,/);
    const same = await call(`/admin/v1/logs?format=csv&key=${userKeyId}&limit=2`, admin);
    assert.equal(same.text.split('\r\n').filter((l) => l !== '').length, 3);
  });

  test('gRPC llmux.v1.Auth/ListRequestLogs: the same records for logs:read, PERMISSION_DENIED otherwise', async () => {
    const protoRoot = fileURLToPath(new URL('../../proto', import.meta.url));
    const options = { includeDirs: [protoRoot], keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };
    const Auth = grpc.loadPackageDefinition(protoLoader.loadSync('llmux/v1/auth.proto', options)).llmux.v1.Auth;
    const client = new Auth(server.grpcAddr, grpc.credentials.createInsecure());
    const list = (key, request) => new Promise((resolve) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${key}`);
      client.ListRequestLogs(request, md, (err, reply) => resolve({ code: err ? err.code : 0, reply }));
    });
    let r = await list(admin, { key_id: userKeyId, status: 'error' });
    assert.equal(r.code, grpc.status.OK);
    assert.deepEqual(r.reply.records.map((x) => [x.model, x.status, x.error_class]), [['no-such-model', 404, 'not_found']]);
    r = await list(admin, { key_id: userKeyId, limit: 2 });
    assert.equal(r.reply.records.length, 2);
    assert.equal(r.reply.has_more, true);
    r = await list(admin, { key_id: userKeyId, status: 'maybe' });
    assert.equal(r.code, grpc.status.INVALID_ARGUMENT);
    r = await list(userKey, {});
    assert.equal(r.code, grpc.status.PERMISSION_DENIED);
    client.close();
  });

  test('a key without logs:read gets 403; bad parameters get 400', async () => {
    for (const path of ['/admin/v1/logs', '/admin/v1/logs/stats?group=model', '/admin/v1/logs.csv']) {
      const r = await call(path, userKey);
      assert.equal(r.status, 403, path);
      assert.equal(r.json.error.code, 'permission_denied');
    }
    for (const path of ['/admin/v1/logs?from=yesterday', '/admin/v1/logs?limit=0', '/admin/v1/logs?limit=1001',
      '/admin/v1/logs?bogus=1', '/admin/v1/logs?status=maybe', '/admin/v1/logs?key=-1',
      `/admin/v1/logs?from=${Date.now()}&to=${Date.now() - 1000}`, '/admin/v1/logs/stats',
      '/admin/v1/logs/stats?group=day', '/admin/v1/logs.csv?limit=100001', '/admin/v1/logs?format=xml']) {
      const r = await call(path, admin);
      assert.equal(r.status, 400, path);
      assert.equal(typeof r.json.error.message, 'string', path);
    }
  });
});
