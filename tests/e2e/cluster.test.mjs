// Gateway and workers as separate processes on loopback, with a real etcd and Redis: the official
// `openai` client talks to `llmux gateway`, which finds `llmux worker`s in etcd (issue 14).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SHARED, referenceContinuation } from './server.mjs';
import { metric, startEtcd, startGateway, startRedis, startWorker, waitFor } from './cluster.mjs';
import { join } from 'node:path';

const stories = `stories=${join(SHARED, 'models/stories260K.gguf')}`;
const expected = referenceContinuation('Once upon a time');
const complete = (client, extra = {}) => client.completions.create({
  model: 'stories', prompt: 'Once upon a time', max_tokens: 64, temperature: 0, ...extra });

async function streamText(client) {
  const stream = await complete(client, { stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  return text;
}

// A long greedy stream (480 tokens): `started` resolves at its first chunk, `done` with its text.
async function longStream(client) {
  const stream = await complete(client, { max_tokens: 480, ignore_eos: true, stream: true });
  let text = '';
  let first;
  const started = new Promise((r) => { first = r; });
  const done = (async () => {
    for await (const chunk of stream) { text += chunk.choices[0]?.text ?? ''; first(); }
    return text;
  })();
  return { started, done };
}

describe('one gateway, three workers found through etcd', () => {
  let etcd, gateway, client;
  const workers = [];
  before(async () => {
    etcd = await startEtcd();
    for (let i = 0; i < 3; ++i) {
      workers.push(await startWorker([stories], ['--etcd', etcd.endpoint, '--id', `w${i}`, '--lease-ttl', '2'], `w${i}`));
    }
    gateway = await startGateway(['--etcd', etcd.endpoint]);
    client = new OpenAI({ baseURL: `${gateway.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    await waitFor('three workers in the gateway', async () =>
      (await metric(gateway.baseURL, 'llmux_gateway_workers', { state: 'up' })) === 3);
  });
  after(async () => {
    await gateway?.stop();
    for (const w of workers) await w.stop('SIGKILL');
    await etcd?.remove();
  });

  test('the models of the workers are listed once', async () => {
    const list = await client.models.list();
    assert.deepEqual(list.data.map((m) => m.id), ['stories']);
  });

  test('/tokenize and /detokenize on the gateway use the vocabulary fetched from a worker', async () => {
    const vectors = JSON.parse(readFileSync(join(SHARED, 'vectors/stories260K.json'), 'utf8'));
    const post = (path, body) => fetch(`${gateway.baseURL}${path}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    for (const p of vectors.prompts) {
      let r;
      // The gateway fetches a model's vocabulary when a worker reports it (503 before).
      await waitFor('the vocabulary of stories', async () =>
        (r = await post('/tokenize', { model: 'stories', prompt: p.text })).status === 200);
      const t = await r.json();
      assert.deepEqual(t.tokens, p.prompt_ids, p.name);  // llama.cpp's ids, BOS included
      // Without the BOS (which would render as "<s>"), the ids give the text back.
      const d = await (await post('/detokenize', { model: 'stories', tokens: p.prompt_ids.slice(1) })).json();
      assert.equal(d.prompt, p.text, p.name);
    }
  });

  test('requests are balanced over every worker and answer as llama.cpp does', async () => {
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) =>
      (i % 2 ? streamText(client) : complete(client).then((r) => r.choices[0].text))));
    for (const text of results) assert.equal(text, expected);
    for (const w of workers) {
      const n = await metric(gateway.baseURL, 'llmux_gateway_worker_requests_total', { worker: w.address });
      assert.ok(n >= 3, `worker ${w.address} got ${n} of 24 requests`);
    }
  });

  // Streams cut mid-way move to another worker, which replays the tokens already sent and goes
  // on: the client sees one whole stream, the text an uninterrupted run gives, and no error.
  test('kill -9 of a worker under load: no request fails, streams in flight move on', async () => {
    const victim = workers[0];
    const longText = () => longStream(client);
    const reference = await (await longText()).done;
    const migratedBefore = await metric(gateway.baseURL, 'llmux_gateway_stream_migrations_total');
    const outcomes = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const batch = await Promise.allSettled(Array.from({ length: 4 }, () => complete(client)));
        for (const r of batch) {
          outcomes.push({ ok: r.status === 'fulfilled' && r.value.choices[0].text === expected,
            why: r.reason?.message ?? r.value?.choices[0].text });
        }
      }
    })();
    const streams = await Promise.all(Array.from({ length: 6 }, () => longText()));
    await Promise.all(streams.map((s) => s.started));
    victim.child.kill('SIGKILL');
    const texts = await Promise.all(streams.map((s) => s.done));
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await load;
    for (const t of texts) assert.equal(t, reference, 'a stream cut by the kill reads as one whole stream');
    assert.ok(outcomes.length >= 8, `only ${outcomes.length} requests ran`);
    assert.deepEqual(outcomes.filter((o) => !o.ok), [], 'no request fails');
    const migrated = await metric(gateway.baseURL, 'llmux_gateway_stream_migrations_total') - migratedBefore;
    assert.ok(migrated >= 1, 'some stream was in flight on the killed worker and moved');
    // Its lease (2 s) expires: etcd drops it and the gateway forgets it.
    await waitFor('the killed worker to leave', async () =>
      (await metric(gateway.baseURL, 'llmux_gateway_workers', { worker: victim.address })) === 0, 15000);
  });

  test('etcd stopped for 30 s: no request fails, a restarted worker rejoins', async () => {
    await etcd.stop('SIGKILL');
    // Requests all through the outage, which outlasts the workers' lease TTL many times.
    const until = Date.now() + 30000;
    let n = 0;
    while (Date.now() < until) {
      const batch = await Promise.all([complete(client), streamText(client)]);
      assert.equal(batch[0].choices[0].text, expected);
      assert.equal(batch[1], expected);
      n += 2;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(n >= 40, `only ${n} requests during the outage`);
    await etcd.start();
    // The workers re-register (their leases expired meanwhile) and the gateway re-reads etcd.
    await waitFor('two workers back in the gateway', async () =>
      (await metric(gateway.baseURL, 'llmux_gateway_workers', { state: 'up' })) === 2, 20000);
    workers[0] = await startWorker([stories], ['--etcd', etcd.endpoint, '--id', 'w0', '--lease-ttl', '2'], 'w0-again');
    await waitFor('the restarted worker to rejoin', async () =>
      (await metric(gateway.baseURL, 'llmux_gateway_workers', { state: 'up' })) === 3, 20000);
    assert.equal((await complete(client)).choices[0].text, expected);
  });

  test('a worker drained with SIGTERM finishes its work and leaves at once', async () => {
    const w = workers[2];
    const pending = Promise.all(Array.from({ length: 6 }, () => complete(client)));
    const code = await w.stop('SIGTERM');
    assert.equal(code.code, 0);
    for (const r of await pending) assert.equal(r.choices[0].text, expected);
    await waitFor('the drained worker to leave', async () =>
      (await metric(gateway.baseURL, 'llmux_gateway_workers', { worker: w.address })) === 0, 5000);
  });
  test('a worker drained by an admin call finishes its work, leaves and exits', async () => {
    const w = workers[1];
    const listed = await (await fetch(`${gateway.baseURL}/admin/v1/workers`)).json();
    assert.deepEqual(listed.workers.find((x) => x.address === w.address)?.state, 'up');
    const unknown = await fetch(`${gateway.baseURL}/admin/v1/workers/drain`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"worker":"127.0.0.1:1"}' });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.param, 'worker');
    const pending = Promise.all(Array.from({ length: 6 }, () => complete(client)));
    const drain = await fetch(`${gateway.baseURL}/admin/v1/workers/drain`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ worker: w.address }) });
    assert.equal(drain.status, 200);
    assert.equal((await drain.json()).draining, true);
    for (const r of await pending) assert.equal(r.choices[0].text, expected);
    const exit = await w.exited;
    assert.equal(exit.code, 0, 'the worker drains and exits on its own');
    for (let i = 0; i < 4; ++i) assert.equal((await complete(client)).choices[0].text, expected);
    await waitFor('the drained worker to leave', async () =>
      (await metric(gateway.baseURL, 'llmux_gateway_workers', { worker: w.address })) === 0, 5000);
  });
});

// A gRPC Complete through the gateway's llmux.v1.Inference; resolves with the streamed text.
function grpcComplete(address, model = 'stories') {
  const definition = protoLoader.loadSync('llmux/v1/inference.proto', {
    includeDirs: [fileURLToPath(new URL('../../proto', import.meta.url))], keepCase: true, oneofs: true });
  const Inference = grpc.loadPackageDefinition(definition).llmux.v1.Inference;
  const client = new Inference(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    let text = '';
    const call = client.Complete({ model, prompt: 'Once upon a time', sampling: { temperature: 0 }, max_tokens: 64 });
    call.on('data', (m) => { text += m.delta?.text ?? ''; });
    call.on('error', reject);
    call.on('end', () => { client.close(); resolve(text); });
  });
}

// An MCP `complete` tool call through the gateway's /mcp (the MCP SDK's client); resolves with
// the text.
async function mcpComplete(baseURL, model = 'stories') {
  const client = new Client({ name: 'llmux-e2e-cluster', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${baseURL}/mcp`)));
  try {
    const r = await client.callTool({ name: 'complete',
      arguments: { model, prompt: 'Once upon a time', max_tokens: 64, temperature: 0 } });
    if (r.isError) throw new Error(r.content[0].text);
    return r.content[0].text;
  } finally {
    await client.close();
  }
}

describe('the cluster admin routes need models:manage', () => {
  // A gateway with authentication and etcd (the deploy routes exist only then). Each route is
  // called by a key without models:manage (403 in OpenAI's error shape, nothing done), by one
  // with it (the handler runs: its own validation or lookup answers), and without a key (401).
  let etcd, worker, gateway;
  before(async () => {
    etcd = await startEtcd();
    worker = await startWorker([stories], ['--etcd', etcd.endpoint, '--id', 'perm-w'], 'perm-w');
    gateway = await startGateway(['--etcd', etcd.endpoint], { auth: true, name: 'perm-g' });
    assert.ok(gateway.adminKey, 'the gateway printed the admin key');
    await waitFor('the worker in the gateway', async () => (await metric(gateway.baseURL, 'llmux_gateway_workers',
      { state: 'up' }, { Authorization: `Bearer ${gateway.adminKey}` })) === 1);
  });
  after(async () => {
    await gateway?.stop();
    await worker?.stop('SIGKILL');
    await etcd?.remove();
  });

  const call = async (method, path, key, body) => {
    const headers = key ? { Authorization: `Bearer ${key}` } : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(`${gateway.baseURL}${path}`,
      { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* checked by the caller */ }
    return { status: r.status, text, json };
  };
  const newKey = async (name, scopes) => {
    const r = await call('POST', '/admin/v1/keys', gateway.adminKey, { name, scopes });
    assert.equal(r.status, 201, r.text);
    return r.json.key;
  };

  test('without models:manage: 403 permission_error; with it the handler answers', async () => {
    const user = await newKey('no-manage', ['models:use:*', 'metrics:read']);
    const manager = await newKey('manager', ['models:manage']);
    // `ok`: what the handler answers the manager (a worker or field that proves it ran).
    const routes = [
      { method: 'POST', path: '/admin/v1/workers/drain', body: { worker: '127.0.0.1:1' }, ok: 404, param: 'worker' },
      { method: 'POST', path: '/admin/v1/deploys', body: { model: 'stories' }, ok: 400, param: 'version' },
      { method: 'GET', path: '/admin/v1/deploys', ok: 400, param: 'id' },
      { method: 'GET', path: '/admin/v1/deploys?id=no-such-deploy', ok: 404 },
    ];
    for (const route of routes) {
      const where = `${route.method} ${route.path}`;
      const denied = await call(route.method, route.path, user, route.body);
      assert.equal(denied.status, 403, `${where}: ${denied.text}`);
      assert.ok(denied.json, `${where}: a JSON body`);
      assert.deepEqual(Object.keys(denied.json.error).sort(), ['code', 'message', 'param', 'type'], where);
      assert.equal(denied.json.error.type, 'permission_error', where);
      assert.equal(denied.json.error.code, 'permission_denied', where);
      assert.equal(denied.json.error.param, null, where);
      assert.match(denied.json.error.message, /models:manage/, where);

      const anonymous = await call(route.method, route.path, null, route.body);
      assert.equal(anonymous.status, 401, `${where}: ${anonymous.text}`);

      const allowed = await call(route.method, route.path, manager, route.body);
      assert.equal(allowed.status, route.ok, `${where}: ${allowed.text}`);
      if (route.param) assert.equal(allowed.json.error.param, route.param, where);
    }
    // The refused drain of the real worker did nothing: it is still up.
    const drain = await call('POST', '/admin/v1/workers/drain', user, { worker: worker.address });
    assert.equal(drain.status, 403, drain.text);
    const listed = await call('GET', '/admin/v1/workers', manager);
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.workers.find((x) => x.address === worker.address)?.state, 'up');
    // A well-formed deploy is refused as well: the gate answers before the body is read.
    const deny = await call('POST', '/admin/v1/deploys', user,
      { model: 'stories', version: 'v9', path: '/nonexistent.gguf', timeout_s: 1 });
    assert.equal(deny.status, 403, deny.text);
  });
});

describe('a static worker list, no etcd', () => {
  test('the gateway serves through the workers it is given', async () => {
    const w = await startWorker([stories], [], 'static-w');
    const gateway = await startGateway(['--worker', w.address]);
    try {
      const client = new OpenAI({ baseURL: `${gateway.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      assert.equal((await complete(client)).choices[0].text, expected);
      await assert.rejects(client.completions.create({ model: 'nope', prompt: 'x', max_tokens: 1 }),
        (e) => e.status === 404);
    } finally {
      await gateway.stop();
      await w.stop('SIGKILL');
    }
  });

  // A worker that hangs mid-stream (SIGSTOP: its connections stay open, its kernel still
  // acknowledges data, nothing answers) is found by the gateway's pings within
  // --worker-keepalive-ms twice over; its connection is closed and the streams in flight on it
  // move to the other worker. Without pings they would wait for it forever.
  test('streams on a worker that hangs move on once its pings go unanswered', async () => {
    const a = await startWorker([stories], [], 'hang-a');
    const b = await startWorker([stories], [], 'hang-b');
    const gateway = await startGateway(['--worker', a.address, '--worker', b.address,
      '--worker-keepalive-ms', '500', '--breaker-failures', '1000']);
    try {
      const client = new OpenAI({ baseURL: `${gateway.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      await waitFor('both workers up', async () =>
        (await metric(gateway.baseURL, 'llmux_gateway_workers', { state: 'up' })) === 2, 10000);
      const longText = () => longStream(client);
      const reference = await (await longText()).done;
      const sentToA = () => metric(gateway.baseURL, 'llmux_gateway_worker_requests_total', { worker: a.address });
      const before = await sentToA();
      const streams = await Promise.all(Array.from({ length: 8 }, () => longText()));
      await Promise.all(streams.map((s) => s.started));
      a.child.kill('SIGSTOP');
      const stopped = Date.now();
      assert.ok(await sentToA() > before, 'some streams went to the worker that hangs');
      const texts = await Promise.all(streams.map((s) => s.done));
      const waited = Date.now() - stopped;
      for (const t of texts) assert.equal(t, reference, 'a stream moved off the hung worker reads as one stream');
      assert.ok(waited < 6000, `the streams waited ${waited} ms for the hung worker`);
      assert.ok(await metric(gateway.baseURL, 'llmux_gateway_stream_migrations_total') >= 1, 'a stream moved');
    } finally {
      a.child.kill('SIGCONT');
      await gateway.stop();
      await a.stop('SIGKILL');
      await b.stop('SIGKILL');
    }
  });

  // A stopped worker keeps its connections open and answers nothing: a request sent to it waits
  // for the gateway's accept timeout (3 s here) before it counts as failed. Meanwhile the gateway
  // must go on answering everyone else, through each front end (OpenAI, gRPC, MCP): the waits
  // hold no HTTP io thread and no gRPC callback thread. `held` is served by the stopped worker
  // alone, so requests for it go there whatever the routing; `stories` by both.
  test('a worker that stops answering holds no other request up', async () => {
    const live = await startWorker([stories], [], 'answering-w');
    const stuck = await startWorker([stories, `held=${join(SHARED, 'models/stories260K.gguf')}`], [], 'stopped-w');
    const gateway = await startGateway(['--worker', live.address, '--worker', stuck.address,
      '--accept-timeout-ms', '3000', '--breaker-failures', '1000']);
    try {
      const client = new OpenAI({ baseURL: `${gateway.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const [, grpcPort] = /gRPC on [\d.]+:(\d+)/.exec(gateway.log());
      const grpcAddress = `127.0.0.1:${grpcPort}`;
      const frontEnds = {
        openai: (model) => client.completions.create({
          model, prompt: 'Once upon a time', max_tokens: 64, temperature: 0 }).then((r) => r.choices[0].text),
        grpc: (model) => grpcComplete(grpcAddress, model),
        mcp: (model) => mcpComplete(gateway.baseURL, model),
      };
      const sentToStuck = () => metric(gateway.baseURL, 'llmux_gateway_worker_requests_total', { worker: stuck.address });
      for (const [name, call] of Object.entries(frontEnds)) {
        await waitFor('both workers up', async () =>
          (await metric(gateway.baseURL, 'llmux_gateway_workers', { state: 'up' })) === 2, 10000);
        stuck.child.kill('SIGSTOP');
        const before = await sentToStuck();
        const order = [];
        // More held requests than the gateway has HTTP io threads (2).
        const held = Array.from({ length: 3 }, () => call('held').then(() => order.push('held'), () => order.push('held')));
        await waitFor('the held requests at the stopped worker', async () => (await sentToStuck()) >= before + 3, 5000);
        const texts = [];
        for (let i = 0; i < 3; ++i) texts.push(await call('stories'));
        const health = await fetch(`${gateway.baseURL}/health`);
        order.push('answered');
        await Promise.all(held);
        stuck.child.kill('SIGCONT');
        for (const t of texts) assert.equal(t, expected, `${name}: every request to the answering worker is answered`);
        assert.equal(health.status, 200);
        assert.equal(order[0], 'answered',
          `${name}: the requests to the answering worker finished before those held by the stopped one: ${order.join(' ')}`);
      }
    } finally {
      stuck.child.kill('SIGCONT');
      await gateway.stop();
      await live.stop('SIGKILL');
      await stuck.stop('SIGKILL');
    }
  });
});

// The gateway waits for workers to accept on a pool of threads (16) shared by every caller;
// one caller holds at most 4 of them at once. A caller whose requests all go to a stopped
// worker therefore holds 4 threads for the accept timeout, and another caller is answered
// meanwhile. Without the share, the first 16 of its 24 requests would hold every thread.
describe('a caller whose requests a stopped worker holds', () => {
  test('takes its share of the gateway\'s submit threads, and other callers are answered', async () => {
    const live = await startWorker([stories], [], 'share-live-w');
    const stuck = await startWorker([stories, `held=${join(SHARED, 'models/stories260K.gguf')}`], [], 'share-stopped-w');
    const gateway = await startGateway(['--worker', live.address, '--worker', stuck.address,
      '--accept-timeout-ms', '4000', '--breaker-failures', '1000'], { auth: true, name: 'share-g' });
    try {
      const admin = { Authorization: `Bearer ${gateway.adminKey}` };
      const newKey = async (name) => {
        const r = await fetch(`${gateway.baseURL}/admin/v1/keys`, {
          method: 'POST', headers: { ...admin, 'Content-Type': 'application/json' },
          body: JSON.stringify({ name, scopes: ['models:use:*'] }) });
        const text = await r.text();
        assert.equal(r.status, 201, text);
        return JSON.parse(text).key;
      };
      const hog = new OpenAI({ baseURL: `${gateway.baseURL}/v1`, apiKey: await newKey('hog'), maxRetries: 0 });
      const other = new OpenAI({ baseURL: `${gateway.baseURL}/v1`, apiKey: await newKey('other'), maxRetries: 0 });
      await waitFor('both workers up', async () =>
        (await metric(gateway.baseURL, 'llmux_gateway_workers', { state: 'up' }, admin)) === 2, 10000);
      const sentToStuck = () => metric(gateway.baseURL, 'llmux_gateway_worker_requests_total',
        { worker: stuck.address }, admin);
      stuck.child.kill('SIGSTOP');
      const before = await sentToStuck();
      const order = [];
      const held = Array.from({ length: 24 }, () => hog.completions.create({
        model: 'held', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 })
        .then(() => order.push('held'), () => order.push('held')));
      await waitFor('the hog\'s share at the stopped worker', async () => (await sentToStuck()) >= before + 4, 3000);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await sentToStuck(), before + 4, 'the hog\'s requests at the stopped worker: its share, 4');
      const answer = await complete(other);
      order.push('answered');
      assert.equal(answer.choices[0].text, expected);
      assert.equal(order[0], 'answered', `the other caller waited for the hog's requests: ${order.join(' ')}`);
      stuck.child.kill('SIGCONT');
      await Promise.all(held);
    } finally {
      stuck.child.kill('SIGCONT');
      await gateway.stop();
      await live.stop('SIGKILL');
      await stuck.stop('SIGKILL');
    }
  });
});

describe('cache-aware routing over worker processes', () => {
  // A long shared beginning (about 18 KV blocks of 16 tokens) and a short tail of its own.
  const system = Array.from({ length: 16 }, (_, i) => `Once upon a time a little dog number ${i} ran.`).join(' ');
  const ask = (client, i, extra = {}) => client.completions.create({
    model: 'stories', prompt: `${system} Then a cat said ${i}`, max_tokens: 8, temperature: 0, ...extra });
  test('requests sharing a long prompt stay on the worker holding it until it is overloaded', async () => {
    const workers = [await startWorker([stories], [], 'cache-w0'), await startWorker([stories], [], 'cache-w1')];
    const gateway = await startGateway(['--worker', workers[0].address, '--worker', workers[1].address,
      '--route-policy', 'cache-aware', '--cache-aware-max-load', '3']);
    try {
      const client = new OpenAI({ baseURL: `${gateway.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const counts = async () => Promise.all(workers.map((w) =>
        metric(gateway.baseURL, 'llmux_gateway_worker_requests_total', { worker: w.address })));
      await ask(client, 0);
      const [first0, first1] = await counts();
      const holder = first0 === 1 ? 0 : 1;
      assert.equal(first0 + first1, 1);
      // The holder's next load report (every second) carries the prompt's blocks.
      await new Promise((r) => setTimeout(r, 2500));
      for (let i = 1; i <= 10; ++i) await ask(client, i);
      const after = await counts();
      assert.equal(after[holder], 11, `every request went to the worker holding the prompt: ${after}`);
      assert.equal(after[1 - holder], 0);
      // Many at once: the holder is at its load threshold, so the other worker takes the rest.
      await Promise.all(Array.from({ length: 12 }, (_, i) => ask(client, 100 + i, { max_tokens: 150, ignore_eos: true })));
      const busy = await counts();
      assert.ok(busy[1 - holder] >= 3, `the other worker took the overflow: ${busy}`);
      assert.ok(busy[holder] - after[holder] >= 3, `the holder kept its share: ${busy}`);
    } finally {
      await gateway.stop();
      for (const w of workers) await w.stop('SIGKILL');
    }
  });
});

describe('two gateways sharing a key\'s limit through Redis', () => {
  test('requests per minute hold in sum', async () => {
    const { startPostgres } = await import('./postgres.mjs');
    const stops = [];
    try {
      const pg = await startPostgres();
      stops.unshift(async () => pg.stop());
      const redis = await startRedis();
      stops.unshift(() => redis.stop());
      const w = await startWorker([stories], [], 'limit-w');
      stops.unshift(() => w.stop('SIGKILL'));
      const shared = ['--worker', w.address, '--store', pg.url, '--redis', redis.address];
      const g1 = await startGateway(shared, { auth: true, name: 'g1' });
      stops.unshift(() => g1.stop());
      const g2 = await startGateway(shared, { auth: true, name: 'g2' });
      stops.unshift(() => g2.stop());
      const admin = g1.adminKey ?? g2.adminKey;
      assert.ok(admin, 'the first gateway printed the admin key');
      const created = await fetch(`${g1.baseURL}/admin/v1/keys`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'limited', scopes: ['models:use:*'], limits: { requests_per_minute: 6 } }),
      });
      assert.equal(created.status, 201, await created.clone().text());
      const key = (await created.json()).key;
      let ok = 0;
      let limited = 0;
      for (let i = 0; i < 12; ++i) {
        const base = i % 2 ? g2.baseURL : g1.baseURL;
        const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
        try { await complete(client, { max_tokens: 2 }); ++ok; } catch (e) {
          assert.equal(e.status, 429);
          ++limited;
        }
      }
      assert.equal(ok, 6, 'the key got six requests in all, not six per gateway');
      assert.equal(limited, 6);
    } finally {
      for (const stop of stops) await stop();
    }
  });
});
