// Authentication, permissions and limits end to end: a `llmux serve` of its own with auth on
// (the default), driven by the `openai` npm client, @grpc/grpc-js, plain fetch and the `llmux`
// CLI. The permission matrix below is the table of docs/auth.md. With LLMUX_E2E_STORE=postgres
// the server (and the CLI) keep everything in a throwaway PostgreSQL server instead of SQLite;
// run.mjs runs this file both ways.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import OpenAI from 'openai';
import { startPostgres } from './postgres.mjs';
import { BIN, SHARED, startServer } from './server.mjs';

const stories = join(SHARED, 'models/stories260K.gguf');
const MODEL = 'stories';
const dataRoot = mkdtempSync(join(tmpdir(), 'llmux-e2e-auth-'));
const dataDir = join(dataRoot, 'data');  // llmux creates it
process.env.LLMUX_LOG_LEVEL = 'debug';  // the secret scan reads the most talkative log
let server;
let postgres = null;  // the throwaway PostgreSQL server, when LLMUX_E2E_STORE=postgres
const storeArgs = () => (postgres ? ['--store', postgres.url] : []);
// A small share of calls in flight per caller, so that the shares test below can fill it.
const CALLS_PER_CALLER = 6;
const shareArgs = ['--calls-per-caller', String(CALLS_PER_CALLER)];
const keys = {};      // role name -> full API key
const passwords = {}; // user name -> password
const secrets = [];   // every key and password handed out: none may show up in a log or reply
const replies = [];   // bodies of API replies after creation, scanned at the end
let earlierLogs = ''; // stderr of the servers before the last restart (the first one printed the admin key)

async function call(method, path, key, body, extraHeaders = {}) {
  const headers = { ...extraHeaders };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(server.baseURL + path, {
    // A string body is sent as it is (to test bodies that are not JSON).
    method, headers, body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  replies.push(text);
  let json = null;
  try { json = JSON.parse(text); } catch { /* metrics are text */ }
  return { status: r.status, headers: r.headers, json, text };
}

function chatBody(extra = {}) {
  return { model: MODEL, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 8,
    temperature: 0, ...extra };
}

async function start() {
  server = await startServer([`${MODEL}=${stories}`], [...storeArgs(), ...shareArgs], { auth: true, dataDir });
}

// Stops the server and starts another on the same store (and data directory), keeping the log.
async function restart() {
  earlierLogs += server.log();
  await server.stop();
  await start();
}

before(async () => {
  if (process.env.LLMUX_E2E_STORE === 'postgres') postgres = await startPostgres();
  await start();
});
after(async () => {
  if (server) await server.stop();
  postgres?.stop();
  rmSync(dataRoot, { recursive: true, force: true });
});

describe('first start', () => {
  test('prints one admin key and keeps it in a 0600 file', () => {
    assert.match(server.adminKey ?? '', /^llmux_[a-z2-7]{12}_[0-9A-Za-z]{43}$/);
    const file = join(dataDir, 'admin-api-key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8').trim(), server.adminKey);
    keys.admin = server.adminKey;
    secrets.push(server.adminKey);
    // The store is where it was asked to be.
    assert.equal(existsSync(join(dataDir, 'llmux.db')), postgres === null);
    // The data directory is the owner's only, and so is every file of the database (which holds
    // password and key hashes and the audit log).
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    if (postgres === null) {
      for (const f of ['llmux.db', 'llmux.db-wal', 'llmux.db-shm']) {
        assert.equal(statSync(join(dataDir, f)).mode & 0o777, 0o600, f);
      }
    }
  });

  test('a second llmux serve on the same SQLite data directory stops with a clear message', () => {
    if (postgres !== null) {
      // PostgreSQL stores are made to be shared by several servers: no lock is taken.
      assert.equal(existsSync(join(dataDir, 'llmux.lock')), false);
      return;
    }
    const second = spawnSync(BIN, ['serve', '--host', '127.0.0.1', '--port', '0', '--grpc-port', '0',
      '--data-dir', dataDir, '--model', `${MODEL}=${stories}`], { encoding: 'utf8', timeout: 30000 });
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`data directory .* is in use by another llmux serve \\(pid ${server.pid}\\)`));
  });

  test('without a key: 401 with WWW-Authenticate in OpenAI\'s shape; /health stays public', async () => {
    const r = await call('POST', '/v1/chat/completions', null, chatBody());
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /^Bearer/);
    assert.equal(r.json.error.type, 'authentication_error');
    assert.equal(r.json.error.code, 'invalid_api_key');
    assert.equal((await call('GET', '/health')).status, 200);
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: 'llmux_aaaaaaaaaaaa_wrong', maxRetries: 0 });
    await assert.rejects(client.models.list(), (e) => e.status === 401);
  });

  test('the admin key works with the openai client', async () => {
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: keys.admin, maxRetries: 0 });
    const r = await client.chat.completions.create(chatBody());
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.ok(r.usage.completion_tokens > 0);
  });
});

describe('users, roles and keys through the admin API', () => {
  test('create users, a custom role and their keys; secrets are shown once', async () => {
    let r = await call('PUT', '/admin/v1/roles', keys.admin,
      { name: 'auditor', permissions: ['logs:read', 'models:use:other-*'] });
    assert.equal(r.status, 200, r.text);
    for (const [name, roles] of [['olive', ['operator']], ['uma', ['user']], ['audrey', ['auditor']]]) {
      const password = `pw-${name}-${Math.random()}`;
      secrets.push(password);
      passwords[name] = password;
      r = await call('POST', '/admin/v1/users', keys.admin, { name, password, roles });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.name, name);
      assert.equal(JSON.stringify(r.json).includes('argon2'), false);
      const k = await call('POST', '/admin/v1/keys', keys.admin, { owner_user_id: r.json.id, name: `${name}-key` });
      assert.equal(k.status, 201, k.text);
      assert.match(k.json.key, /^llmux_/);
      assert.equal(k.json.prefix, k.json.key.slice(0, 18));
      keys[roles[0]] = k.json.key;
      secrets.push(k.json.key);
    }
    // Listings never carry the secret.
    const listed = await call('GET', '/admin/v1/keys?limit=2', keys.admin);
    assert.equal(listed.status, 200);
    assert.equal(listed.json.data.length, 2);
    assert.equal(listed.json.has_more, true);
    const rest = await call('GET', `/admin/v1/keys?after=${listed.json.next_cursor}`, keys.admin);
    assert.equal(listed.json.data.length + rest.json.data.length, 4);
    for (const k of [...listed.json.data, ...rest.json.data]) assert.equal(k.key, undefined);
  });

  test('bad admin input gets clear errors', async () => {
    let r = await call('POST', '/admin/v1/users', keys.admin, { name: 'x', rolez: ['user'] });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /unknown field 'rolez'/);
    r = await call('POST', '/admin/v1/users', keys.admin, { name: 'olive', roles: ['user'] });
    assert.equal(r.status, 409);
    r = await call('PUT', '/admin/v1/roles', keys.admin, { name: 'admin', permissions: [] });
    assert.equal(r.status, 400);
    r = await call('DELETE', '/admin/v1/keys?id=abc', keys.admin);
    assert.equal(r.status, 400);
    r = await call('POST', '/admin/v1/keys', keys.admin, '{not json');
    assert.equal(r.status, 400);
    assert.equal(r.json.error.message, 'the request body is not valid JSON');
  });

  test('a key made with the CLI works at once on the running server', async () => {
    const out = execFileSync(BIN, ['key', 'create', '--data-dir', dataDir, ...storeArgs(), '--scope', 'models:use:*',
      '--name', 'from-cli'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    assert.match(out, /^llmux_[a-z2-7]{12}_[0-9A-Za-z]{43}$/);
    secrets.push(out);
    const r = await call('POST', '/v1/chat/completions', out, chatBody());
    assert.equal(r.status, 200, r.text);
    const listed = execFileSync(BIN, ['key', 'list', '--data-dir', dataDir, ...storeArgs()], { encoding: 'utf8' });
    assert.match(listed, /from-cli/);
    assert.equal(listed.includes(out), false);
  });
});

describe('password login', () => {
  test('login gives a short access token; refresh rotates; a replay ends the sessions; logout', async () => {
    const bad = await call('POST', '/auth/login', null, { username: 'olive', password: 'nope' });
    assert.equal(bad.status, 401);
    const unknown = await call('POST', '/auth/login', null, { username: 'nobody', password: 'nope' });
    assert.equal(unknown.json.error.message, bad.json.error.message);
    const login = await call('POST', '/auth/login', null, { username: 'olive', password: passwords.olive });
    assert.equal(login.status, 200, login.text);
    assert.equal(login.json.token_type, 'Bearer');
    assert.equal(login.json.expires_in, 900);
    secrets.push(login.json.refresh_token);
    // The access token acts as olive (operator) with the openai client.
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: login.json.access_token, maxRetries: 0 });
    assert.ok((await client.chat.completions.create(chatBody())).choices.length === 1);
    assert.equal((await call('GET', '/metrics', login.json.access_token)).status, 200);
    assert.equal((await call('GET', '/admin/v1/users', login.json.access_token)).status, 403);

    const refreshed = await call('POST', '/auth/refresh', null, { refresh_token: login.json.refresh_token });
    assert.equal(refreshed.status, 200, refreshed.text);
    secrets.push(refreshed.json.refresh_token);
    assert.notEqual(refreshed.json.refresh_token, login.json.refresh_token);
    const replay = await call('POST', '/auth/refresh', null, { refresh_token: login.json.refresh_token });
    assert.equal(replay.status, 401);
    assert.equal((await call('POST', '/auth/refresh', null, { refresh_token: refreshed.json.refresh_token })).status, 401);

    const again = await call('POST', '/auth/login', null, { username: 'olive', password: passwords.olive });
    secrets.push(again.json.refresh_token);
    assert.equal((await call('POST', '/auth/logout', null, { refresh_token: again.json.refresh_token })).status, 200);
    assert.equal((await call('POST', '/auth/refresh', null, { refresh_token: again.json.refresh_token })).status, 401);
    assert.equal((await call('POST', '/auth/login', null, { username: 'olive' })).status, 400);
  });
});

describe('permission matrix (docs/auth.md)', () => {
  // Every route of the HTTP route table with the exact status of each cell. An allowed cell
  // gets the route's documented success status; where a change must not happen (the matrix
  // runs as admin too), the body is refused by the handler's own validation (400) or names a
  // record that does not exist (404), so the cell still proves the handler ran, not only the
  // gate. Denied cells: 401 without a credential, 403 with one (docs/auth.md, "Route table").
  // The three /auth routes count against the 30-a-minute login budget of this address: with
  // the login test and the gRPC Login calls this file stays under it.
  const mcpHeaders = { Accept: 'application/json, text/event-stream' };
  const noSession = { ...mcpHeaders, 'Mcp-Session-Id': 'f'.repeat(64) };
  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'matrix', version: '1' } } };
  // An OpenAI-shaped error of the handler: type, a message matching `message`, param and code.
  const openaiError = (type, message, param = null, code = null) => (r) => {
    assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.json.error.type, type);
    assert.match(r.json.error.message, message);
    assert.equal(r.json.error.param, param);
    assert.equal(r.json.error.code, code);
  };
  const invalid = (message, param = null) =>
    openaiError('invalid_request_error', message, param, param === null ? null : 'invalid_value');
  const notFound = (message) => openaiError('invalid_request_error', message);
  const list = (r) => {
    assert.equal(r.json.object, 'list');
    assert.ok(Array.isArray(r.json.data));
  };
  const routes = [
    { method: 'GET', path: '/health', ok: 200 },
    { method: 'GET', path: '/metrics', ok: 200, check: (r) => assert.match(r.text, /^llmux_requests_total/m) },
    { method: 'GET', path: '/v1/models', ok: 200, check: list },
    { method: 'POST', path: '/v1/chat/completions', body: chatBody(), ok: 200,
      check: (r) => assert.equal(r.json.object, 'chat.completion') },
    { method: 'POST', path: '/v1/completions', body: { model: MODEL, prompt: 'Once', max_tokens: 2 }, ok: 200,
      check: (r) => assert.equal(r.json.object, 'text_completion') },
    { method: 'POST', path: '/v1/responses', body: { model: MODEL, input: 'Once', max_output_tokens: 2 }, ok: 200,
      check: (r) => assert.equal(r.json.object, 'response') },
    { method: 'POST', path: '/auth/login', body: { username: 'olive' }, ok: 400,
      check: invalid(/^password is required \(a non-empty string\)$/, 'password') },
    { method: 'POST', path: '/auth/refresh', body: { refresh_token: 'not-a-token' }, ok: 401,
      check: openaiError('authentication_error', /^invalid refresh token$/, null, 'invalid_api_key') },
    { method: 'POST', path: '/auth/logout', body: { refresh_token: 'not-a-token' }, ok: 401,
      check: openaiError('authentication_error', /^invalid refresh token$/, null, 'invalid_api_key') },
    { method: 'GET', path: '/admin/v1/users', ok: 200, check: list },
    { method: 'POST', path: '/admin/v1/users', body: { bogus: 1 }, ok: 400, check: invalid(/^unknown field 'bogus'$/, 'bogus') },
    { method: 'PATCH', path: '/admin/v1/users?id=999999', body: { disabled: true }, ok: 404, check: notFound(/^user 999999 not found$/) },
    { method: 'DELETE', path: '/admin/v1/users?id=999999', ok: 404, check: notFound(/^user 999999 not found$/) },
    { method: 'GET', path: '/admin/v1/keys', ok: 200, check: list },
    { method: 'POST', path: '/admin/v1/keys', body: { bogus: 1 }, ok: 400, check: invalid(/^unknown field 'bogus'$/, 'bogus') },
    { method: 'PATCH', path: '/admin/v1/keys?id=999999', body: { limits: { requests_per_minute: 1 } }, ok: 404,
      check: notFound(/^api key 999999 not found$/) },
    { method: 'DELETE', path: '/admin/v1/keys?id=999999', ok: 404, check: notFound(/^api key 999999 not found$/) },
    { method: 'GET', path: '/admin/v1/roles', ok: 200, check: list },
    { method: 'PUT', path: '/admin/v1/roles', body: { bogus: 1 }, ok: 400, check: invalid(/^unknown field 'bogus'$/, 'bogus') },
    { method: 'DELETE', path: '/admin/v1/roles?name=nosuch', ok: 404, check: notFound(/^role 'nosuch' not found$/) },
    { method: 'GET', path: '/admin/v1/audit', ok: 200, check: list },
    { method: 'GET', path: '/admin/v1/prompts', ok: 200, check: list },
    { method: 'PUT', path: '/admin/v1/prompts', body: { bogus: 1 }, ok: 400, check: invalid(/^unknown field 'bogus'$/, 'bogus') },
    { method: 'DELETE', path: '/admin/v1/prompts?name=nosuch', ok: 404, check: notFound(/^prompt 'nosuch' not found$/) },
    { method: 'GET', path: '/admin/v1/registry/models', ok: 200, check: list },
    { method: 'PUT', path: '/admin/v1/registry/tags', body: { bogus: 1 }, ok: 400, check: invalid(/^unknown field 'bogus'$/, 'bogus') },
    { method: 'GET', path: '/admin/v1/models', ok: 200,
      check: (r) => assert.ok(r.json.models.some((m) => m.name === MODEL && m.pinned)) },
    { method: 'GET', path: '/admin/v1/metrics/history', ok: 200, check: (r) => assert.equal(r.json.resolution_s, 1) },
    { method: 'POST', path: '/mcp', body: initialize, headers: mcpHeaders, ok: 200, check: (r) => {
      assert.match(r.headers.get('mcp-session-id'), /^[0-9a-f]{64}$/);
      assert.equal(r.json.result.protocolVersion, '2025-11-25');
    } },
    { method: 'GET', path: '/mcp', headers: { ...noSession, Accept: 'text/event-stream' }, ok: 404,
      check: (r) => assert.deepEqual(r.json.error, { code: -32600, message: 'Session not found' }) },
    { method: 'DELETE', path: '/mcp', headers: noSession, ok: 404,
      check: (r) => assert.deepEqual(r.json.error, { code: -32600, message: 'Session not found' }) },
    { method: 'GET', path: '/.well-known/oauth-protected-resource', ok: 200,
      check: (r) => assert.equal(r.json.resource, `${server.baseURL}/mcp`) },
    { method: 'GET', path: '/.well-known/oauth-protected-resource/mcp', ok: 200,
      check: (r) => assert.equal(r.json.resource, `${server.baseURL}/mcp`) },
    { method: 'GET', path: '/admin/v1/me', ok: 200, check: (r) => assert.equal(r.json.object, 'principal') },
    // Public; this server has no built console (no --console-dir, none in the data directory).
    { method: 'GET', path: '/console/', ok: 404, check: (r) => assert.match(r.text, /^the console is not built in /) },
  ];
  // The table of docs/auth.md, one letter per route above: Y allowed (the route's `ok`
  // status), N refused (401 for `none`, 403 otherwise). `auditor` is the custom role
  // {logs:read, models:use:other-*}: it may list models (none of them visible) but not use one.
  const matrix = {
    //        health metrics models chat compl responses | login refresh logout | users x4 | keys x4 | roles x3 | audit | prompts x3 | registry x2 | admin models, metrics history | mcp x3 | well-known x2 | me | console
    admin:    'YYYYYY YYY YYYY YYYY YYY Y YYY YY YY YYY YY Y Y',
    operator: 'YYYYYY YYY NNNN NNNN NNN Y YYY YY YY YYY YY Y Y',
    user:     'YNYYYY YYY NNNN NNNN NNN N NNN NN NN YYY YY Y Y',
    auditor:  'YNYNNN YYY NNNN NNNN NNN Y NNN NN NN YYY YY Y Y',
    none:     'YNNNNN YYY NNNN NNNN NNN N NNN NN NN NNN YY N Y',
  };
  for (const [role, cells] of Object.entries(matrix)) {
    test(role, async () => {
      const row = cells.replaceAll(' ', '');
      assert.equal(row.length, routes.length, 'one cell per route');
      for (const [i, route] of routes.entries()) {
        const r = await call(route.method, route.path, role === 'none' ? null : keys[role], route.body, route.headers);
        const where = `${role} ${route.method} ${route.path} -> ${r.status} ${r.text.slice(0, 200)}`;
        if (row[i] === 'Y') {
          assert.equal(r.status, route.ok, where);
          route.check?.(r);
        } else if (route.path === '/mcp') {
          // /mcp refuses in JSON-RPC's shape (docs/mcp.md, "Authorization").
          assert.equal(r.status, 401, where);
          assert.equal(r.json.error.code, -32001, where);
          assert.match(r.headers.get('www-authenticate'), /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp"/);
        } else if (role === 'none') {
          assert.equal(r.status, 401, where);
          openaiError('authentication_error', /./, null, 'invalid_api_key')(r);
          assert.match(r.headers.get('www-authenticate'), /^Bearer realm="llmux"/);
        } else {
          assert.equal(r.status, 403, where);
          assert.equal(r.json.error.type, 'permission_error', where);
          assert.equal(r.json.error.code, 'permission_denied', where);
        }
      }
    });
  }

  test('a model outside the caller\'s grants is refused, and /v1/models hides it', async () => {
    const r = await call('GET', '/v1/models', keys.auditor);
    assert.deepEqual(r.json.data, []);
    const denied = await call('POST', '/v1/chat/completions', keys.auditor, chatBody());
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.type, 'permission_error');
    assert.equal(denied.json.error.param, 'model');
  });

  test('denials are in the audit log, readable with logs:read', async () => {
    const r = await call('GET', '/admin/v1/audit?limit=200', keys.auditor);
    assert.equal(r.status, 200);
    const denied = r.json.data.filter((e) => e.outcome === 'denied');
    assert.ok(denied.some((e) => e.action === 'GET /admin/v1/users' && e.actor.startsWith('key:')));
    assert.ok(denied.some((e) => e.actor === 'anonymous' && e.source.startsWith('127.0.0.1')));
    const changes = r.json.data.filter((e) => e.action === 'users.create' && e.outcome === 'ok');
    assert.equal(changes.length, 3);
  });
});

describe('permission matrix over gRPC', () => {
  const protoRoot = fileURLToPath(new URL('../../proto', import.meta.url));
  function clients() {
    const options = { includeDirs: [protoRoot], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
    const inference = grpc.loadPackageDefinition(protoLoader.loadSync('llmux/v1/inference.proto', options)).llmux.v1.Inference;
    return new inference(server.grpcAddr, grpc.credentials.createInsecure());
  }
  function metadata(key) {
    const m = new grpc.Metadata();
    if (key) m.set('authorization', `Bearer ${key}`);
    return m;
  }
  function listModels(client, key) {
    return new Promise((resolve) => {
      client.ListModels({}, metadata(key), (err, reply) => resolve({ code: err ? err.code : 0, reply }));
    });
  }
  // A server-streaming call (Chat or Complete): its status and how many messages came.
  function generate(client, method, key) {
    const request = method === 'Chat'
      ? { model: MODEL, messages: [{ role: 'user', content: 'Once' }], max_tokens: 4 }
      : { model: MODEL, prompt: 'Once', max_tokens: 4 };
    return new Promise((resolve) => {
      const call = client[method](request, metadata(key));
      let messages = 0;
      call.on('data', () => { ++messages; });
      call.on('error', () => {});
      call.on('status', (st) => resolve({ code: st.code, metadata: st.metadata, messages }));
    });
  }
  const chat = (client, key) => generate(client, 'Chat', key);
  const OK = grpc.status.OK, UNAUTH = grpc.status.UNAUTHENTICATED, DENIED = grpc.status.PERMISSION_DENIED;
  // ListModels, Chat, Complete: the rows of docs/auth.md's table for gRPC.
  const matrix = {
    admin: [OK, OK, OK], operator: [OK, OK, OK], user: [OK, OK, OK], auditor: [OK, DENIED, DENIED],
    none: [UNAUTH, UNAUTH, UNAUTH],
  };
  for (const [role, [list, chatCode, completeCode]] of Object.entries(matrix)) {
    test(role, async () => {
      const client = clients();
      const key = role === 'none' ? null : keys[role];
      const l = await listModels(client, key);
      assert.equal(l.code, list, `${role} ListModels`);
      if (l.code === OK) {
        assert.deepEqual(l.reply.models.map((m) => m.id), role === 'auditor' ? [] : [MODEL]);
      }
      for (const [method, code] of [['Chat', chatCode], ['Complete', completeCode]]) {
        const r = await generate(client, method, key);
        assert.equal(r.code, code, `${role} ${method}`);
        // Allowed: deltas and the finish message came; refused: nothing did.
        if (code === OK) assert.ok(r.messages >= 2, `${role} ${method}: ${r.messages} messages`);
        else assert.equal(r.messages, 0, `${role} ${method}`);
      }
      client.close();
    });
  }
  test('a wrong key is UNAUTHENTICATED, a rate limit RESOURCE_EXHAUSTED with retry-after', async () => {
    const client = clients();
    assert.equal((await chat(client, 'llmux_aaaaaaaaaaaa_' + 'C'.repeat(43))).code, UNAUTH);
    const k = await call('POST', '/admin/v1/keys', keys.admin, { scopes: ['models:use:*'], limits: { requests_per_minute: 1 } });
    secrets.push(k.json.key);
    assert.equal((await chat(client, k.json.key)).code, OK);
    const limited = await chat(client, k.json.key);
    assert.equal(limited.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.ok(Number(limited.metadata.get('retry-after')[0]) >= 1);
    client.close();
  });
});

describe('llmux.v1.Auth over gRPC', () => {
  const protoRoot = fileURLToPath(new URL('../../proto', import.meta.url));
  let client;
  before(() => {
    const options = { includeDirs: [protoRoot], keepCase: true, longs: Number, enums: String, defaults: true };
    const Auth = grpc.loadPackageDefinition(protoLoader.loadSync('llmux/v1/auth.proto', options)).llmux.v1.Auth;
    client = new Auth(server.grpcAddr, grpc.credentials.createInsecure());
  });
  after(() => client.close());
  function rpc(method, request, key) {
    const md = new grpc.Metadata();
    if (key) md.set('authorization', `Bearer ${key}`);
    return new Promise((resolve) => {
      client[method](request, md, (err, reply) => resolve({ code: err ? err.code : 0, reply, details: err?.details }));
    });
  }

  test('login, keys and users with the permissions of the HTTP admin API', async () => {
    const login = await rpc('Login', { username: 'uma', password: passwords.uma });
    assert.equal(login.code, 0, login.details);
    secrets.push(login.reply.refresh_token);
    assert.equal((await rpc('Login', { username: 'uma', password: 'wrong' })).code, grpc.status.UNAUTHENTICATED);
    // uma is a user: no key management, with her login token or her key.
    assert.equal((await rpc('ListKeys', {}, login.reply.access_token)).code, grpc.status.PERMISSION_DENIED);
    assert.equal((await rpc('CreateKey', { scopes: ['*'] }, keys.user)).code, grpc.status.PERMISSION_DENIED);
    assert.equal((await rpc('ListAudit', {}, null)).code, grpc.status.UNAUTHENTICATED);
    assert.equal((await rpc('ListAudit', { limit: 5 }, keys.auditor)).code, 0);

    const created = await rpc('CreateKey', { name: 'grpc-made', scopes: ['models:use:*'], limits: { requests_per_minute: 9 } }, keys.admin);
    assert.equal(created.code, 0, created.details);
    assert.match(created.reply.key, /^llmux_/);
    secrets.push(created.reply.key);
    replies.push(JSON.stringify(created.reply));
    assert.equal(created.reply.api_key.limits.requests_per_minute, 9);
    const listed = await rpc('ListKeys', { limit: 1000 }, keys.admin);
    assert.equal(listed.code, 0);
    replies.push(JSON.stringify(listed.reply));
    const mine = listed.reply.keys.find((k) => k.id === created.reply.api_key.id);
    assert.equal(mine.name, 'grpc-made');
    assert.equal(JSON.stringify(listed.reply).includes(created.reply.key.slice(19)), false);
    // The new key works over HTTP, and stops when revoked over gRPC.
    assert.equal((await call('GET', '/v1/models', created.reply.key)).status, 200);
    const revoked = await rpc('RevokeKey', { id: created.reply.api_key.id }, keys.admin);
    assert.ok(revoked.reply.revoked_at > 0);
    assert.equal((await call('GET', '/v1/models', created.reply.key)).status, 401);

    const users = await rpc('ListUsers', { limit: 2 }, keys.admin);
    assert.equal(users.code, 0);
    assert.equal(users.reply.users.length, 2);
    assert.equal(users.reply.has_more, true);
    assert.equal((await rpc('ListUsers', { limit: 5000 }, keys.admin)).code, grpc.status.INVALID_ARGUMENT);
    assert.equal((await rpc('CreateUser', { name: 'olive' }, keys.admin)).code, grpc.status.ALREADY_EXISTS);
    const roles = await rpc('ListRoles', {}, keys.admin);
    assert.deepEqual(roles.reply.roles.map((r) => r.name), ['admin', 'auditor', 'operator', 'user']);
  });
});

describe('limits', () => {
  async function keyWith(limits) {
    const k = await call('POST', '/admin/v1/keys', keys.admin, { scopes: ['models:use:*'], limits });
    assert.equal(k.status, 201, k.text);
    secrets.push(k.json.key);
    return k.json;
  }

  test('requests per minute: 429 rate_limit_exceeded with Retry-After', async () => {
    const { key } = await keyWith({ requests_per_minute: 2 });
    for (let i = 0; i < 2; ++i) assert.equal((await call('POST', '/v1/chat/completions', key, chatBody())).status, 200);
    const r = await call('POST', '/v1/chat/completions', key, chatBody());
    assert.equal(r.status, 429);
    assert.equal(r.json.error.code, 'rate_limit_exceeded');
    assert.ok(Number(r.headers.get('retry-after')) >= 1, r.headers.get('retry-after'));
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: key, maxRetries: 0 });
    await assert.rejects(client.chat.completions.create(chatBody()), (e) => e.status === 429);
  });

  test('concurrent requests: one at a time for a key with max_concurrent 1', async () => {
    const { key } = await keyWith({ max_concurrent: 1 });
    const together = await Promise.all(
      // Long enough (400 tokens, EOS ignored) that the requests overlap.
      Array.from({ length: 4 }, () => call('POST', '/v1/chat/completions', key,
        chatBody({ max_tokens: 400, ignore_eos: true }))));
    const statuses = together.map((r) => r.status);
    assert.ok(statuses.includes(200), statuses.join());
    assert.ok(statuses.includes(429), statuses.join());
    assert.ok(statuses.every((s) => s === 200 || s === 429), statuses.join());
    // Every slot came back.
    assert.equal((await call('POST', '/v1/chat/completions', key, chatBody())).status, 200);
  });

  test('a token budget and the key\'s limits survive a restart', async () => {
    const created = await keyWith({ token_budget: 5, budget_period_seconds: 86400 });
    const first = await call('POST', '/v1/chat/completions', created.key, chatBody({ max_tokens: 24 }));
    assert.equal(first.status, 200);
    assert.ok(first.json.usage.total_tokens > 5);
    assert.equal((await call('POST', '/v1/chat/completions', created.key, chatBody())).status, 429);

    await restart();
    assert.equal(server.adminKey, undefined, 'a second start must not print a new admin key');
    const again = await call('POST', '/v1/chat/completions', created.key, chatBody());
    assert.equal(again.status, 429);
    assert.match(again.json.error.message, /budget/);
    const k = await call('GET', `/admin/v1/keys?id=${created.id}`, keys.admin);
    assert.equal(k.json.limits.token_budget, 5);
    assert.ok(k.json.last_used_at > 0);
  });

  test('revoking a key ends it at once', async () => {
    const created = await keyWith({});
    assert.equal((await call('GET', '/v1/models', created.key)).status, 200);
    assert.equal((await call('DELETE', `/admin/v1/keys?id=${created.id}`, keys.admin)).status, 200);
    const r = await call('GET', '/v1/models', created.key);
    assert.equal(r.status, 401);
    assert.match(r.json.error.message, /revoked/);
  });
});

describe('ending a user\'s sessions ends their access tokens at once', () => {
  // Each case below makes an access token, ends the sessions (a replayed refresh token, a new
  // password over HTTP or the CLI, disabling the user) and checks that the token is refused at
  // once, over HTTP and gRPC, and after a restart. The /auth calls here (fewer than 30) come
  // after the restart of the limits tests, which started a fresh login budget.
  const protoRoot = fileURLToPath(new URL('../../proto', import.meta.url));
  const options = { includeDirs: [protoRoot], keepCase: true, longs: Number, enums: String, defaults: true };
  const pkg = (file) => grpc.loadPackageDefinition(protoLoader.loadSync(file, options)).llmux.v1;
  let grpcClients = null;  // { addr, inference, auth }, made again when a restart moved the server
  let user;
  const password = `pw-sessions-${Math.random()}`;
  function clients() {
    if (grpcClients?.addr !== server.grpcAddr) {
      grpcClients?.inference.close();
      grpcClients?.auth.close();
      const insecure = grpc.credentials.createInsecure();
      grpcClients = {
        addr: server.grpcAddr,
        inference: new (pkg('llmux/v1/inference.proto').Inference)(server.grpcAddr, insecure),
        auth: new (pkg('llmux/v1/auth.proto').Auth)(server.grpcAddr, insecure),
      };
    }
    return grpcClients;
  }
  before(async () => {
    secrets.push(password);
    passwords.sam = password;
    const r = await call('POST', '/admin/v1/users', keys.admin, { name: 'sam', password, roles: ['user'] });
    assert.equal(r.status, 201, r.text);
    user = r.json;
  });
  after(() => {
    grpcClients?.inference.close();
    grpcClients?.auth.close();
  });
  const md = (token) => {
    const m = new grpc.Metadata();
    m.set('authorization', `Bearer ${token}`);
    return m;
  };
  const grpcCode = (client, method, request, token) => new Promise((resolve) => {
    client[method](request, token ? md(token) : new grpc.Metadata(),
      (err, reply) => resolve({ code: err ? err.code : 0, reply, details: err?.details }));
  });
  async function login() {
    const r = await call('POST', '/auth/login', null, { username: 'sam', password: passwords.sam });
    assert.equal(r.status, 200, r.text);
    secrets.push(r.json.refresh_token);
    return r.json;
  }
  // The token works over HTTP (the openai client) and gRPC.
  async function assertWorks(token, what) {
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: token, maxRetries: 0 });
    assert.deepEqual((await client.models.list()).data.map((m) => m.id), [MODEL], what);
    assert.equal((await grpcCode(clients().inference, 'ListModels', {}, token)).code, grpc.status.OK, what);
  }
  // The token is refused: 401 over HTTP, UNAUTHENTICATED over gRPC, saying why.
  async function assertEnded(token, what) {
    const r = await call('GET', '/v1/models', token);
    assert.equal(r.status, 401, `${what}: ${r.text}`);
    assert.equal(r.json.error.type, 'authentication_error');
    assert.match(r.json.error.message, /session has ended/, what);
    const chat = await call('POST', '/v1/chat/completions', token, chatBody());
    assert.equal(chat.status, 401, what);
    const g = await grpcCode(clients().inference, 'ListModels', {}, token);
    assert.equal(g.code, grpc.status.UNAUTHENTICATED, `${what}: ${g.details}`);
    assert.match(g.details, /session has ended/, what);
  }

  test('a replayed refresh token ends every access token of the user, also after a restart', async () => {
    const laptop = await login();
    const phone = await login();
    const rotated = await call('POST', '/auth/refresh', null, { refresh_token: laptop.refresh_token });
    assert.equal(rotated.status, 200, rotated.text);
    secrets.push(rotated.json.refresh_token);
    const tokens = [laptop.access_token, rotated.json.access_token, phone.access_token];
    for (const [i, t] of tokens.entries()) await assertWorks(t, `token ${i} before the replay`);

    const replay = await call('POST', '/auth/refresh', null, { refresh_token: laptop.refresh_token });
    assert.equal(replay.status, 401);
    assert.match(replay.json.error.message, /already used/);
    for (const [i, t] of tokens.entries()) await assertEnded(t, `token ${i} after the replay`);
    // Other users' logins and keys go on.
    await assertWorks(keys.user, 'another user\'s key');

    await restart();
    for (const [i, t] of tokens.entries()) await assertEnded(t, `token ${i} after a restart`);
    assert.equal((await call('POST', '/auth/refresh', null, { refresh_token: phone.refresh_token })).status, 401);
    await assertWorks((await login()).access_token, 'a new login');
  });

  test('the same replay over gRPC ends the tokens gRPC handed out', async () => {
    const first = await grpcCode(clients().auth, 'Login', { username: 'sam', password: passwords.sam });
    assert.equal(first.code, grpc.status.OK, first.details);
    secrets.push(first.reply.refresh_token);
    const second = await grpcCode(clients().auth, 'Refresh', { refresh_token: first.reply.refresh_token });
    assert.equal(second.code, grpc.status.OK, second.details);
    secrets.push(second.reply.refresh_token);
    await assertWorks(second.reply.access_token, 'the refreshed token');
    const replay = await grpcCode(clients().auth, 'Refresh', { refresh_token: first.reply.refresh_token });
    assert.equal(replay.code, grpc.status.UNAUTHENTICATED);
    await assertEnded(first.reply.access_token, 'the first gRPC token');
    await assertEnded(second.reply.access_token, 'the refreshed gRPC token');
  });

  test('a new password ends the access tokens, set over HTTP or with the CLI on the running server', async () => {
    let tokens = await login();
    passwords.sam = `pw-sessions-http-${Math.random()}`;
    secrets.push(passwords.sam);
    const r = await call('PATCH', `/admin/v1/users?id=${user.id}`, keys.admin, { password: passwords.sam });
    assert.equal(r.status, 200, r.text);
    await assertEnded(tokens.access_token, 'after a new password over HTTP');
    assert.equal((await call('POST', '/auth/refresh', null, { refresh_token: tokens.refresh_token })).status, 401);

    // The CLI writes the store from another process; the server sees it at the token's next use.
    tokens = await login();
    await assertWorks(tokens.access_token, 'a login with the new password');
    passwords.sam = `pw-sessions-cli-${Math.random()}`;
    secrets.push(passwords.sam);
    execFileSync(BIN, ['user', 'passwd', 'sam', '--data-dir', dataDir, ...storeArgs()],
      { input: `${passwords.sam}\n`, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    await assertEnded(tokens.access_token, 'after llmux user passwd');
  });

  test('disabling the user ends the access tokens; enabling again brings none back', async () => {
    const tokens = await login();
    await assertWorks(tokens.access_token, 'before disabling');
    let r = await call('PATCH', `/admin/v1/users?id=${user.id}`, keys.admin, { disabled: true });
    assert.equal(r.status, 200, r.text);
    assert.equal((await call('GET', '/v1/models', tokens.access_token)).status, 401);
    r = await call('PATCH', `/admin/v1/users?id=${user.id}`, keys.admin, { disabled: false });
    assert.equal(r.status, 200, r.text);
    await assertEnded(tokens.access_token, 'after enabling again');
    assert.equal((await call('POST', '/auth/refresh', null, { refresh_token: tokens.refresh_token })).status, 401);
    await assertWorks((await login()).access_token, 'a new login');
  });
});

describe('no grant beyond the granter', () => {
  test('a manager grants nothing beyond its own rights: 403 with the right it lacks', async () => {
    const make = async (name, roles) => {
      const u = await call('POST', '/admin/v1/users', keys.admin, { name, roles });
      assert.equal(u.status, 201, u.text);
      const k = await call('POST', '/admin/v1/keys', keys.admin, { owner_user_id: u.json.id, name });
      assert.equal(k.status, 201, k.text);
      secrets.push(k.json.key);
      return { id: u.json.id, key: k.json.key };
    };
    for (const [name, permissions] of [['keymgr', ['keys:manage']], ['usermgr', ['users:manage']]]) {
      assert.equal((await call('PUT', '/admin/v1/roles', keys.admin, { name, permissions })).status, 200);
    }
    const boss = await make('boss', ['admin']);
    const keymgr = await make('keeper', ['keymgr']);
    const usermgr = await make('porter', ['usermgr']);
    const denied = (r, right) => {
      assert.equal(r.status, 403, r.text);
      assert.equal(r.json.error.type, 'permission_error');
      assert.ok(r.json.error.message.includes(`'${right}'`), r.json.error.message);
    };
    // keys:manage alone: no key for an admin (it would carry '*'), nor a key with wider scopes.
    denied(await call('POST', '/admin/v1/keys', keymgr.key, { owner_user_id: boss.id, name: 'x' }), '*');
    denied(await call('POST', '/admin/v1/keys', keymgr.key, { name: 'x', scopes: ['models:manage'] }), 'models:manage');
    const bossKey = (await call('GET', `/admin/v1/keys?owner=${boss.id}`, keys.admin)).json.data[0];
    denied(await call('PATCH', `/admin/v1/keys?id=${bossKey.id}`, keymgr.key, { limits: { requests_per_minute: 1 } }), '*');
    // Its own kind of key it may make.
    assert.equal((await call('POST', '/admin/v1/keys', keymgr.key, { owner_user_id: keymgr.id, name: 'mine' })).status, 201);
    // users:manage alone: no admin user, no role of '*' or of model use, no takeover of an admin.
    denied(await call('POST', '/admin/v1/users', usermgr.key, { name: 'mallory', roles: ['admin'] }), '*');
    denied(await call('PUT', '/admin/v1/roles', usermgr.key, { name: 'all', permissions: ['*'] }), '*');
    denied(await call('PUT', '/admin/v1/roles', usermgr.key, { name: 'use', permissions: ['models:use:*'] }), 'models:use:*');
    denied(await call('PATCH', `/admin/v1/users?id=${boss.id}`, usermgr.key, { password: 'mine now' }), '*');
    denied(await call('DELETE', `/admin/v1/users?id=${boss.id}`, usermgr.key), '*');
    const created = await call('POST', '/admin/v1/users', usermgr.key, { name: 'helper', roles: ['usermgr'] });
    assert.equal(created.status, 201, created.text);
    // The admin can still log in with its unchanged rights.
    const still = await call('GET', '/admin/v1/users?limit=1', boss.key);
    assert.equal(still.status, 200);
  });
});

describe('per-caller shares of shared capacities', () => {
  const mcpHeaders = { Accept: 'application/json, text/event-stream' };
  const initialize = (name) => ({ jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name, version: '1' } } });
  async function openSession(key, name) {
    const r = await call('POST', '/mcp', key, initialize(name), mcpHeaders);
    assert.equal(r.status, 200, r.text);
    return r.headers.get('mcp-session-id');
  }
  const ping = (key, session) =>
    call('POST', '/mcp', key, { jsonrpc: '2.0', id: 2, method: 'ping' }, { ...mcpHeaders, 'Mcp-Session-Id': session });

  test('a stored response is continued only by its own caller', async () => {
    const first = await call('POST', '/v1/responses', keys.admin, { model: MODEL, input: 'Once', max_output_tokens: 2 });
    assert.equal(first.status, 200, first.text);
    const next = { model: MODEL, input: 'Then', max_output_tokens: 2, previous_response_id: first.json.id };
    const other = await call('POST', '/v1/responses', keys.user, next);
    assert.equal(other.status, 400, other.text);
    assert.equal(other.json.error.param, 'previous_response_id');
    const own = await call('POST', '/v1/responses', keys.admin, next);
    assert.equal(own.status, 200, own.text);
    assert.equal(own.json.previous_response_id, first.json.id);
  });

  test('one caller opening 150 MCP sessions ends only its own oldest; the admin still gets in', async () => {
    // A second key of the same user: a user's keys share one share of 100 sessions.
    const me = await call('GET', '/admin/v1/keys', keys.admin);
    const userKey = me.json.data.find((k) => k.name === 'uma-key');
    assert.ok(userKey, me.text);
    const second = await call('POST', '/admin/v1/keys', keys.admin, { owner_user_id: userKey.owner_user_id, name: 'uma-2' });
    assert.equal(second.status, 201, second.text);
    secrets.push(second.json.key);
    const sessions = [];
    for (let i = 0; i < 150; ++i) sessions.push(await openSession(i % 2 ? second.json.key : keys.user, `flood-${i}`));
    assert.equal(new Set(sessions).size, 150);
    // The 100 most recent are open, the 50 before them were ended (404 tells an MCP client to
    // initialize again).
    for (let i = 0; i < 150; ++i) {
      const r = await ping(i % 2 ? second.json.key : keys.user, sessions[i]);
      assert.equal(r.status, i < 50 ? 404 : 200, `session ${i}: ${r.text}`);
    }
    // Another caller is not affected; neither is its own session.
    const mine = await openSession(keys.admin, 'admin');
    assert.equal((await ping(keys.admin, mine)).status, 200);
    assert.equal((await ping(keys.admin, mine)).json.result !== undefined, true);
  });

  test(`a caller has at most ${CALLS_PER_CALLER} calls in flight; others are served meanwhile`, async () => {
    const long = chatBody({ max_tokens: 300, ignore_eos: true });
    const flood = Array.from({ length: CALLS_PER_CALLER + 3 }, () => call('POST', '/v1/chat/completions', keys.user, long));
    // While the flood runs, the admin's request goes through.
    const admin = await call('POST', '/v1/chat/completions', keys.admin, chatBody());
    assert.equal(admin.status, 200, admin.text);
    const results = await Promise.all(flood);
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, CALLS_PER_CALLER, statuses.join());
    for (const r of results.filter((x) => x.status !== 200)) {
      assert.equal(r.status, 429, r.text);
      assert.match(r.json.error.message, /calls in flight, its share of the server/);
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }
    // Every slot came back.
    assert.equal((await call('POST', '/v1/chat/completions', keys.user, chatBody())).status, 200);
  });
});

describe('secrets', () => {
  test('1,000 wrong keys are refused, audited, and lock nothing out', async () => {
    // No timing here (a loaded machine makes any threshold flaky): what would slow or lock out
    // a valid key is observable without a clock. A lockout or back-off shows as a refused
    // valid call during or right after the flood, as a 429 or a Retry-After on the guesses,
    // or as a real key whose prefix was guessed at being revoked or disabled.
    const newestAudit = async () => (await call('GET', '/admin/v1/audit?limit=1', keys.admin)).json.data[0].id;
    const mark = await newestAudit();
    const prefix = keys.user.slice(0, 19);  // "llmux_<prefix>_"
    const guesses = new Set();
    for (let batch = 0; batch < 20; ++batch) {
      const wrong = [];
      for (let i = 0; i < 50; ++i) {
        // Half guess secrets of a real prefix, half invent prefixes.
        const guess = (batch * 50 + i) % 2 === 0
          ? prefix + 'A'.repeat(40) + String(batch).padStart(2, '0') + String.fromCharCode(65 + (i % 26))
          : `llmux_${'abcdefghijkl'}_${'B'.repeat(43)}`;
        guesses.add(guess.slice(19));
        wrong.push(call('GET', '/v1/models', guess));
      }
      // The valid key is served in the middle of every batch of guesses.
      const valid = call('GET', '/v1/models', keys.user);
      for (const r of await Promise.all(wrong)) {
        assert.equal(r.status, 401);
        assert.equal(r.json.error.code, 'invalid_api_key');
        assert.equal(r.headers.get('retry-after'), null, 'no back-off is announced');
      }
      const v = await valid;
      assert.equal(v.status, 200, `batch ${batch}: ${v.text}`);
      assert.deepEqual(v.json.data.map((m) => m.id), [MODEL]);
    }
    // Right after the flood: the valid key works at once, inference included.
    assert.equal((await call('GET', '/v1/models', keys.user)).status, 200);
    assert.equal((await call('POST', '/v1/chat/completions', keys.user, chatBody())).status, 200);

    // The audit log has every refusal, from this address, without the guessed secrets.
    const denied = [];
    for (let before = null; ;) {
      const page = await call('GET', `/admin/v1/audit?limit=1000${before ? `&before=${before}` : ''}`, keys.admin);
      assert.equal(page.status, 200, page.text);
      const fresh = page.json.data.filter((e) => e.id > mark);
      denied.push(...fresh.filter((e) => e.outcome === 'denied' && e.target === '/v1/models'));
      if (fresh.length < page.json.data.length || !page.json.has_more) break;
      before = page.json.next_cursor;
    }
    assert.equal(denied.length, 1000);
    for (const e of denied) {
      assert.equal(e.actor, 'anonymous');
      assert.match(e.source, /^127\.0\.0\.1:/);
      for (const g of [...guesses].filter((x) => e.detail.includes(x))) assert.fail(`a guessed secret is in the audit log: ${g}`);
    }
    // The user's key (whose prefix was guessed 500 times) is neither revoked nor disabled.
    const owned = await call('GET', '/admin/v1/keys?limit=1000', keys.admin);
    const mine = owned.json.data.find((k) => keys.user.startsWith(k.prefix));
    assert.equal(mine.revoked_at, 0);
  });

  test('no key or password appears in the server log or in any API reply after creation', () => {
    // The first start prints the admin key once, on purpose; nothing else may.
    const bootstrap = earlierLogs.split('\n').filter((line) => line.includes(keys.admin));
    assert.equal(bootstrap.length, 1, 'the admin key must be printed exactly once');
    const log = earlierLogs.replace(keys.admin, '') + server.log();
    for (const s of secrets) {
      assert.equal(log.includes(s), false, `a secret leaked into the log: ${s.slice(0, 18)}...`);
      const secretPart = s.startsWith('llmux_') ? s.slice(19) : s;
      assert.equal(log.includes(secretPart), false);
    }
    // Replies: the one creation reply per key carries it; nothing else may.
    for (const s of secrets.filter((x) => x.startsWith('llmux_') && x !== keys.admin)) {
      const hits = replies.filter((body) => body.includes(s.slice(19))).length;
      assert.ok(hits <= 1, `key ${s.slice(0, 18)} appeared in ${hits} replies`);
    }
    for (const s of Object.values(passwords)) {
      assert.equal(replies.some((body) => body.includes(s)), false, 'a password came back in a reply');
    }
  });
});
