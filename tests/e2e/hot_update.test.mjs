// Hot update end to end: a `llmux serve` with auth (so with the registry) serves model "m" from
// version a of two random-weight Qwen3 files registered as versions of "m". While six clients
// stream greedy chat completions in a loop with the `openai` client, POST /admin/v1/models/update
// switches "m" to version b. No stream may fail, and each answer must be wholly a's or wholly b's
// (greedy text computed alone on each file first): the in-flight ones finish on the copy they
// started on, and everything after the switch is b's. A version whose file is gone fails to load
// and leaves the old copy serving; a user key gets 403. POST /admin/v1/models/load and /unload
// serve a registry version under a new name and stop serving it, with their refusals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { BIN, SHARED, startServer } from './server.mjs';

const root = mkdtempSync(join(tmpdir(), 'llmux-e2e-hot-'));
let server, admin, userKey;

function makeModel(seed) {
  const out = join(root, `m-${seed}.gguf`);
  execFileSync(BIN, ['model', 'create', '--arch', 'qwen3', '--hidden', '64', '--layers', '2',
    '--heads', '2', '--kv-heads', '1', '--head-dim', '32', '--ffn', '128', '--type', 'q8_0',
    '--vocab-from', join(SHARED, 'models/qwen3-vocab.gguf'), '--seed', String(seed), '--out', out]);
  return out;
}

async function call(method, path, key, body) {
  const r = await fetch(server.baseURL + path, { method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

const request = { model: 'm', messages: [{ role: 'user', content: 'Tell me a story' }],
  max_tokens: 24, temperature: 0 };

async function streamOnce(client) {
  let text = '';
  let finish = null;
  const stream = await client.chat.completions.create({ ...request, stream: true });
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (c?.delta?.content) text += c.delta.content;
    if (c?.finish_reason) finish = c.finish_reason;
  }
  return { text, finish };
}

const fileA = makeModel(21);
const fileB = makeModel(22);

before(async () => {
  server = await startServer([`m=${fileA}`], [], { auth: true, dataDir: join(root, 'data') });
  admin = server.adminKey;
  for (const [file, tag] of [[fileA, 'a'], [fileB, 'b']]) {
    const r = await call('POST', '/admin/v1/registry/versions', admin, { path: file, model: 'm', tag });
    assert.ok(r.status === 201 || r.status === 200, r.text);
  }
  const u = await call('POST', '/admin/v1/users', admin, { name: 'ursa', roles: ['user'] });
  const k = await call('POST', '/admin/v1/keys', admin, { owner_user_id: u.json.id, name: 'ursa-key' });
  userKey = k.json.key;
});

after(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

test('a switch under streaming load fails no request; each answer is wholly one version\'s', async () => {
  const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: admin, maxRetries: 0 });
  const a = await streamOnce(client);
  // What version b answers alone, from a second server on that file.
  const solo = await startServer([`m=${fileB}`]);
  const b = await streamOnce(new OpenAI({ baseURL: `${solo.baseURL}/v1`, apiKey: 'x', maxRetries: 0 }));
  await solo.stop();
  assert.notEqual(a.text, b.text, 'the two versions answer differently');

  let stop = false;
  let switchedAt = null;
  const results = [];
  const failures = [];
  const worker = async () => {
    while (!stop) {
      const started = Date.now();
      try {
        const r = await streamOnce(client);
        results.push({ ...r, started });
      } catch (e) {
        failures.push(String(e));
      }
    }
  };
  const workers = Array.from({ length: 6 }, worker);
  await new Promise((r) => setTimeout(r, 800));
  const update = await call('POST', '/admin/v1/models/update', admin, { name: 'm', ref: 'm:b' });
  switchedAt = Date.now();
  assert.equal(update.status, 200, update.text);
  assert.equal(update.json.path, fileB);
  await new Promise((r) => setTimeout(r, 1200));
  stop = true;
  await Promise.all(workers);

  assert.deepEqual(failures, []);
  assert.ok(results.length >= 12, `only ${results.length} answers`);
  for (const r of results) {
    assert.ok(r.finish === 'length' || r.finish === 'stop', JSON.stringify(r));
    assert.ok(r.text === a.text || r.text === b.text, `an answer of neither version: ${JSON.stringify(r.text)}`);
    if (r.started > switchedAt) assert.equal(r.text, b.text, 'a request after the switch got version a');
  }
  assert.ok(results.some((r) => r.text === a.text) && results.some((r) => r.text === b.text),
    'answers from both versions');
  const models = await call('GET', '/admin/v1/models', admin);
  assert.equal(models.json.models.find((m) => m.name === 'm').path, fileB);
});

test('a version that cannot load leaves the old copy serving; bad calls are refused', async () => {
  // A tag pointing at a version whose file then disappears.
  const other = makeModel(23);
  let r = await call('POST', '/admin/v1/registry/versions', admin, { path: other, model: 'm', tag: 'c' });
  assert.equal(r.status, 201, r.text);
  rmSync(other);
  r = await call('POST', '/admin/v1/models/update', admin, { name: 'm', ref: 'm:c' });
  assert.ok(r.status >= 400, r.text);
  assert.match(r.json.error.message, /m-23|No such file|not found|cannot/i);
  const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: admin, maxRetries: 0 });
  const after = await client.chat.completions.create(request);
  assert.ok(after.choices[0].message.content.length > 0, 'the old copy still answers');
  const models = await call('GET', '/admin/v1/models', admin);
  assert.equal(models.json.models.find((m) => m.name === 'm').path, fileB);

  assert.equal((await call('POST', '/admin/v1/models/update', userKey, { name: 'm', ref: 'm:a' })).status, 403);
  r = await call('POST', '/admin/v1/models/update', admin, { name: 'm' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'ref');
  r = await call('POST', '/admin/v1/models/update', admin, { name: 'nope', ref: 'm:a' });
  assert.equal(r.status, 404);
  r = await call('POST', '/admin/v1/models/update', admin, { name: 'm', ref: 'm:zzz' });
  assert.equal(r.status, 404);
});

test('load a registry version under a new name, unload it; refusals', async () => {
  const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: admin, maxRetries: 0 });
  let r = await call('POST', '/admin/v1/models/load', admin, { name: 'm2', ref: 'm:a', keep_alive: 120 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.path, fileA);
  assert.match(r.json.digest, /^sha256:[0-9a-f]{64}$/);
  let models = (await call('GET', '/admin/v1/models', admin)).json.models;
  const m2 = models.find((m) => m.name === 'm2');
  assert.ok(m2 && ['loaded', 'idle'].includes(m2.state), JSON.stringify(models));
  assert.equal(m2.keep_alive_s, 120);
  const reply = await client.chat.completions.create({ ...request, model: 'm2' });
  assert.ok(reply.choices[0].message.content.length > 0);

  r = await call('POST', '/admin/v1/models/load', admin, { name: 'm2', ref: 'm:b' });
  assert.equal(r.status, 409, r.text);
  r = await call('POST', '/admin/v1/models/load', admin, { name: 'm3', ref: 'm:zzz' });
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.error.param, 'ref');
  r = await call('POST', '/admin/v1/models/load', admin, { name: 'm3', ref: 'm:a', path: '/etc/passwd' });
  assert.equal(r.status, 400, r.text);
  r = await call('POST', '/admin/v1/models/load', admin, { name: 'm3', ref: 'm:a', keep_alive: 'long' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.param, 'keep_alive');
  assert.equal((await call('POST', '/admin/v1/models/load', userKey, { name: 'm3', ref: 'm:a' })).status, 403);
  assert.equal((await call('POST', '/admin/v1/models/unload', userKey, { name: 'm2' })).status, 403);

  r = await call('POST', '/admin/v1/models/unload', admin, { name: 'm2' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { name: 'm2', unloaded: true });
  const gone = await client.chat.completions.create({ ...request, model: 'm2' }).catch((e) => e);
  assert.equal(gone.status, 404);
  r = await call('POST', '/admin/v1/models/unload', admin, { name: 'm2' });
  assert.equal(r.status, 404, r.text);
  models = (await call('GET', '/admin/v1/models', admin)).json.models;
  assert.ok(models.some((m) => m.name === 'm'), 'm is still served');

  // Each change of what is served is audited with its caller and outcome (refusals before the
  // change, like an unknown ref, are not changes).
  const audit = await call('GET', '/admin/v1/audit?limit=100', admin);
  assert.equal(audit.status, 200, audit.text);
  const events = audit.json.data.filter((e) => e.target === 'served:m2');
  const seen = events.map((e) => `${e.action} ${e.outcome}`).sort();
  assert.deepEqual(seen, ['models.load failed', 'models.load ok', 'models.unload failed', 'models.unload ok'],
    JSON.stringify(events));
  const loaded = events.find((e) => e.action === 'models.load' && e.outcome === 'ok');
  assert.equal(loaded.detail, 'm:a');
  assert.ok(loaded.actor.length > 0);
  assert.ok(events.every((e) => e.actor === loaded.actor), 'all by the admin key');
});

test('moving the tag a served name refers to hot-updates it', async () => {
  const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: admin, maxRetries: 0 });
  const before = await call('GET', '/admin/v1/models', admin);
  assert.equal(before.json.models.find((m) => m.name === 'm').path, fileB);
  const b = await streamOnce(client);
  const a = await call('GET', '/admin/v1/registry/resolve?ref=m:a', admin);
  assert.equal(a.status, 200, a.text);
  // "m" is m:latest, which no tag named yet: pointing it at a's version switches "m" to a.
  let r = await call('PUT', '/admin/v1/registry/tags', userKey, { model: 'm', tag: 'latest', digest: a.json.digest });
  assert.equal(r.status, 403);
  r = await call('PUT', '/admin/v1/registry/tags', admin, { model: 'm', tag: 'latest', digest: a.json.digest });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.kind, 'tag.set');
  assert.deepEqual(r.json.updated, [{ name: 'm', path: fileA, ok: true }]);
  const models = await call('GET', '/admin/v1/models', admin);
  assert.equal(models.json.models.find((m) => m.name === 'm').path, fileA);
  const after = await streamOnce(client);
  assert.notEqual(after.text, b.text, 'version a answers now');
  // Another tag of m names no served model: nothing is updated.
  r = await call('PUT', '/admin/v1/registry/tags', admin, { model: 'm', tag: 'other', digest: a.json.digest });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.updated, []);
  // Moving latest to b, then rolling that change back, switches "m" to b and back to a.
  const bVersion = await call('GET', '/admin/v1/registry/resolve?ref=m:b', admin);
  const toB = await call('PUT', '/admin/v1/registry/tags', admin, { model: 'm', tag: 'latest', digest: bVersion.json.digest });
  assert.deepEqual(toB.json.updated, [{ name: 'm', path: fileB, ok: true }]);
  const back = await call('POST', '/admin/v1/registry/rollback', admin, { change_id: toB.json.id });
  assert.equal(back.status, 200, back.text);
  assert.deepEqual(back.json.updated, [{ name: 'm', path: fileA, ok: true }]);
  const served = await call('GET', '/admin/v1/models', admin);
  assert.equal(served.json.models.find((m) => m.name === 'm').path, fileA);
});

// Memory after an update: a model whose output matrix (untied, f16) is most of what a decode
// step reads, so each copy in use adds ~150 MiB to the process (copied to the CPU backend's
// huge pages, or mapped from the file where it keeps none). Once the update is done and the
// old copy has drained, the process holds one copy again: its resident bytes
// (llmux_process_resident_bytes{kind="all"}) return to what one copy took, and
// /admin/v1/models shows one copy's memory.
function makeBigModel(seed) {
  const out = join(root, `big-${seed}.gguf`);
  execFileSync(BIN, ['model', 'create', '--arch', 'qwen3', '--hidden', '512', '--layers', '2',
    '--heads', '4', '--kv-heads', '2', '--head-dim', '128', '--ffn', '1024', '--type', 'f16',
    '--untied', '--vocab-from', join(SHARED, 'models/qwen3-vocab.gguf'), '--seed', String(seed),
    '--out', out]);
  return out;
}

test('after an update the old copy\'s memory is released', async () => {
  const bigA = makeBigModel(31);
  const bigB = makeBigModel(32);
  const big = await startServer([`big=${bigA}`], ['--kv-cache-memory', '16MiB'],
    { auth: true, dataDir: join(root, 'data-big') });
  try {
    const key = big.adminKey;
    const req = async (method, path, body) => {
      const r = await fetch(big.baseURL + path, { method,
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, text, json: path === '/metrics' ? null : JSON.parse(text) };
    };
    const residentBytes = async () => {
      const m = /^llmux_process_resident_bytes\{kind="all"\} (\S+)$/m.exec((await req('GET', '/metrics')).text);
      assert.ok(m, 'the process memory gauge');
      return Number(m[1]);
    };
    const client = new OpenAI({ baseURL: `${big.baseURL}/v1`, apiKey: key, maxRetries: 0 });
    const use = () => client.chat.completions.create({ model: 'big',
      messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 4, temperature: 0 });
    const r = await req('POST', '/admin/v1/registry/versions', { path: bigB, model: 'big', tag: 'b' });
    assert.equal(r.status, 201, r.text);
    await use();
    const oneCopy = await residentBytes();
    const size = statSync(bigB).size;
    // One copy in use shows: its output matrix alone is about half the file.
    assert.ok(oneCopy > size / 3, `resident memory ${oneCopy} with one copy (file ${size})`);
    const update = await req('POST', '/admin/v1/models/update', { name: 'big', ref: 'big:b' });
    assert.equal(update.status, 200, update.text);
    await use(); // the new copy's pages are read now
    // Both copies' pages were resident for a moment; once the old copy is gone, one again.
    let now = await residentBytes();
    for (let i = 0; i < 100 && now > oneCopy + size / 4; ++i) {
      await new Promise((res) => setTimeout(res, 50));
      now = await residentBytes();
    }
    assert.ok(now < oneCopy + size / 4,
      `resident memory ${now} after the update, ${oneCopy} with one copy (file ${size})`);
    const models = await req('GET', '/admin/v1/models');
    const m = models.json.models.find((x) => x.name === 'big');
    assert.equal(m.path, bigB);
    assert.ok(m.weights_bytes > 0.9 * size && m.weights_bytes <= size, JSON.stringify(m));
    assert.equal(m.memory_bytes, m.weights_bytes + m.kv_bytes);
  } finally {
    await big.stop();
  }
});
