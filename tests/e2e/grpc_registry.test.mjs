// The model registry over gRPC (llmux.v1.Registry, proto/llmux/v1/registry.proto) with the official
// Node client (@grpc/grpc-js, the proto loaded at run time), against a `llmux serve` of its own
// with auth on. What gRPC changes, the HTTP admin API reads back (and the reverse); the digest is
// node's own SHA-256 of the file; permissions are those of the HTTP routes (models:read to read,
// models:manage to change).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { SHARED, startServer } from './server.mjs';

const FILE = join(SHARED, 'models/stories260K.gguf');
const DIGEST = 'sha256:' + createHash('sha256').update(readFileSync(FILE)).digest('hex');
let server, client;
const keys = {};

async function http(method, path, key, body) {
  const r = await fetch(`${server.baseURL}${path}`, { method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

function rpc(method, request, key) {
  const md = new grpc.Metadata();
  if (key) md.set('authorization', `Bearer ${key}`);
  return new Promise((resolve) => {
    client[method](request, md, (err, reply) => resolve({ code: err ? err.code : 0, reply, details: err?.details }));
  });
}

before(async () => {
  server = await startServer([`stories=${FILE}`], [], { auth: true });
  for (const [name, scopes] of [['reader', ['models:read']], ['manager', ['models:manage', 'models:read']],
    ['user', ['models:use:*']]]) {
    const r = await http('POST', '/admin/v1/keys', server.adminKey, { name, scopes });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    keys[name] = r.json.key;
  }
  const reg = await http('POST', '/admin/v1/registry/versions', keys.manager, { path: FILE, model: 'stories' });
  assert.equal(reg.status, 201, JSON.stringify(reg.json));
  const protoRoot = fileURLToPath(new URL('../../proto', import.meta.url));
  const options = { includeDirs: [protoRoot], keepCase: true, longs: Number, enums: String, defaults: true };
  const Registry = grpc.loadPackageDefinition(protoLoader.loadSync('llmux/v1/registry.proto', options)).llmux.v1.Registry;
  client = new Registry(server.grpcAddr, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await server?.stop();
});

test('ListModels and Resolve read what the HTTP API registered', async () => {
  const list = await rpc('ListModels', {}, keys.reader);
  assert.equal(list.code, 0, list.details);
  assert.deepEqual(list.reply.models.map((m) => m.name), ['stories']);
  const [m] = list.reply.models;
  assert.deepEqual(m.versions.map((v) => v.digest), [DIGEST]);
  assert.equal(m.versions[0].architecture, 'llama');
  assert.deepEqual(m.tags.map((t) => [t.name, t.digest]), [['latest', DIGEST]]);
  assert.deepEqual(JSON.parse(m.parameters_json), {});
  const one = await rpc('ListModels', { name: 'stories' }, keys.reader);
  assert.equal(one.reply.models.length, 1);
  assert.equal((await rpc('ListModels', { name: 'nope' }, keys.reader)).code, grpc.status.NOT_FOUND);

  const resolved = await rpc('Resolve', { ref: 'stories' }, keys.reader);
  assert.equal(resolved.code, 0, resolved.details);
  assert.equal(resolved.reply.digest, DIGEST);
  assert.equal(resolved.reply.path, FILE);
  assert.equal((await rpc('Resolve', { ref: 'stories:nope' }, keys.reader)).code, grpc.status.NOT_FOUND);
  const bad = await rpc('Resolve', { ref: 'bad name!' }, keys.reader);
  assert.equal(bad.code, grpc.status.INVALID_ARGUMENT);
});

test('permissions are the HTTP routes\' ones', async () => {
  assert.equal((await rpc('ListModels', {}, null)).code, grpc.status.UNAUTHENTICATED);
  assert.equal((await rpc('ListModels', {}, 'llmux_bogus')).code, grpc.status.UNAUTHENTICATED);
  assert.equal((await rpc('ListModels', {}, keys.user)).code, grpc.status.PERMISSION_DENIED);
  assert.equal((await rpc('History', {}, keys.user)).code, grpc.status.PERMISSION_DENIED);
  for (const [method, req] of [['PutTag', { model: 'stories', tag: 'v1', digest: DIGEST }],
    ['SetParameters', { model: 'stories', parameters_json: '{}' }], ['Rollback', { change_id: 1 }]]) {
    assert.equal((await rpc(method, req, keys.reader)).code, grpc.status.PERMISSION_DENIED, method);
    assert.equal((await rpc(method, req, null)).code, grpc.status.UNAUTHENTICATED, method);
  }
  // Nothing changed.
  const h = await http('GET', '/admin/v1/registry/resolve?ref=stories:v1', keys.reader);
  assert.equal(h.status, 404);
});

test('PutTag, SetParameters, History and Rollback change what HTTP reads', async () => {
  const tag = await rpc('PutTag', { model: 'stories', tag: 'v1', digest: DIGEST.slice(0, 7 + 12) }, keys.manager);
  assert.equal(tag.code, 0, tag.details);
  assert.equal(tag.reply.kind, 'tag.set');
  assert.equal(tag.reply.target, 'v1');
  const viaHttp = await http('GET', '/admin/v1/registry/resolve?ref=stories:v1', keys.reader);
  assert.equal(viaHttp.status, 200);
  assert.equal(viaHttp.json.digest, DIGEST);

  const set = await rpc('SetParameters', { model: 'stories',
    parameters_json: JSON.stringify({ temperature: 0.5, max_tokens: 7 }) }, keys.manager);
  assert.equal(set.code, 0, set.details);
  assert.equal(set.reply.kind, 'parameters.set');
  let shown = await http('GET', '/admin/v1/registry/models?name=stories', keys.reader);
  assert.deepEqual(shown.json.parameters, { temperature: 0.5, max_tokens: 7 });

  const history = await rpc('History', { model: 'stories', limit: 2 }, keys.reader);
  assert.equal(history.code, 0, history.details);
  assert.deepEqual(history.reply.changes.map((c) => c.kind), ['parameters.set', 'tag.set']);
  assert.equal(history.reply.changes[0].id, set.reply.id);
  assert.equal(history.reply.has_more, true);  // the registration's tag came first
  const older = await rpc('History', { model: 'stories', before_id: history.reply.next_cursor }, keys.reader);
  assert.ok(older.reply.changes.every((c) => c.id < tag.reply.id));
  // The same history through HTTP.
  const httpHistory = await http('GET', '/admin/v1/registry/history?model=stories&limit=2', keys.reader);
  assert.deepEqual(httpHistory.json.data.map((c) => c.id), history.reply.changes.map((c) => c.id));

  const back = await rpc('Rollback', { change_id: set.reply.id }, keys.manager);
  assert.equal(back.code, 0, back.details);
  assert.equal(back.reply.rollback_of, set.reply.id);
  shown = await http('GET', '/admin/v1/registry/models?name=stories', keys.reader);
  assert.deepEqual(shown.json.parameters, {});
  // The audit log has the gRPC changes, by the manager key.
  const audit = await http('GET', '/admin/v1/audit?limit=20', server.adminKey);
  assert.equal(audit.status, 200, JSON.stringify(audit.json));
  assert.ok(JSON.stringify(audit.json).includes('parameters.set'), 'the parameter change is audited');
});

test('bad input gets INVALID_ARGUMENT naming the problem, and changes nothing', async () => {
  const bad = async (method, req, pattern) => {
    const r = await rpc(method, req, keys.manager);
    assert.equal(r.code, grpc.status.INVALID_ARGUMENT, `${method} ${JSON.stringify(req).slice(0, 60)}: ${r.details}`);
    if (pattern) assert.match(r.details, pattern);
  };
  await bad('SetParameters', { model: 'stories', parameters_json: 'not json' }, /parameters_json/);
  await bad('SetParameters', { model: 'stories', parameters_json: '['.repeat(100000) + ']'.repeat(100000) });
  await bad('SetParameters', { model: 'stories', parameters_json: 'x'.repeat(600 * 1024) }, /longer/);
  await bad('SetParameters', { model: 'stories', parameters_json: JSON.stringify({ temperature: 5 }) }, /temperature/);
  await bad('SetParameters', { model: 'stories', parameters_json: JSON.stringify({ no_such: 1 }) });
  await bad('PutTag', { model: 'stories', tag: '-bad tag', digest: DIGEST });
  await bad('History', { limit: 1001 }, /limit/);
  await bad('History', { before_id: -1 }, /before_id/);
  assert.equal((await rpc('Rollback', { change_id: 999999 }, keys.manager)).code, grpc.status.NOT_FOUND);
  const shown = await http('GET', '/admin/v1/registry/models?name=stories', keys.reader);
  assert.deepEqual(shown.json.parameters, {});
});
