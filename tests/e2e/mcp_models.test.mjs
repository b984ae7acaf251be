// MCP load_model / unload_model against a server of its own: models come and go while it
// runs (only from its --model-dir), sessions hear of it (resources list_changed and the
// subscribed model card's updated), and only callers with models:manage see the tools.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { SHARED, startServer } from './server.mjs';

const stories = join(SHARED, 'models/stories260K.gguf');
const work = mkdtempSync(join(tmpdir(), 'llmux-e2e-modeldir-'));
const modelDir = join(work, 'models');
const servers = [];
const clients = [];
let base;

before(async () => {
  mkdirSync(modelDir);
  copyFileSync(stories, join(modelDir, 'stories260K.gguf'));
  writeFileSync(join(modelDir, 'corrupt.gguf'), Buffer.from('GGUF\x03\x00\x00\x00garbage', 'latin1'));
  writeFileSync(join(work, 'outside.gguf'), 'x');
  symlinkSync(join(work, 'outside.gguf'), join(modelDir, 'escape.gguf'));
  const server = await startServer([`stories=${stories}`], ['--model-dir', modelDir]);
  servers.push(server);
  base = server.baseURL;
});

after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  for (const s of servers) await s.stop();
  rmSync(work, { recursive: true, force: true });
});

async function connect(url, headers = {}) {
  const client = new Client({ name: 'llmux-e2e-models', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } });
  await client.connect(transport);
  clients.push(client);
  return client;
}

// Resolves with the first notification for which `match` is true (rejects after 10 s).
function waitFor(list, match) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('notification never came')), 10000);
    const check = () => {
      const hit = list.find(match);
      if (hit) { clearTimeout(timer); resolve(hit); } else setTimeout(check, 20);
    };
    check();
  });
}

const names = async (client) =>
  (await client.callTool({ name: 'list_models', arguments: {} })).structuredContent.models.map((m) => m.name);

test('load_model serves a new model, sessions hear of it, unload_model takes it away', async () => {
  const client = await connect(base);
  const notes = [];
  client.setNotificationHandler(ResourceListChangedNotificationSchema, (n) => notes.push(n));
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => notes.push(n));
  const { tools } = await client.listTools();
  assert.ok(tools.some((t) => t.name === 'load_model'));
  assert.ok(tools.some((t) => t.name === 'unload_model'));
  await client.subscribeResource({ uri: 'llmux://models/extra' });

  const progress = [];
  const loaded = await client.callTool({ name: 'load_model', arguments: { name: 'extra', path: 'stories260K.gguf' } },
    undefined, { onprogress: (p) => progress.push(p) });
  assert.equal(loaded.isError, undefined, JSON.stringify(loaded));
  assert.equal(loaded.structuredContent.name, 'extra');
  assert.equal(loaded.structuredContent.architecture, 'llama');
  assert.ok(progress.length >= 1);
  assert.deepEqual(await names(client), ['stories', 'extra']);
  await waitFor(notes, (n) => n.method === 'notifications/resources/list_changed');
  await waitFor(notes, (n) => n.method === 'notifications/resources/updated' && n.params.uri === 'llmux://models/extra');
  const { resources } = await client.listResources();
  assert.ok(resources.some((r) => r.uri === 'llmux://models/extra'));

  const r = await client.callTool({ name: 'complete', arguments: { model: 'extra', prompt: 'Once upon a time', max_tokens: 16, temperature: 0 } });
  assert.equal(r.isError, undefined, JSON.stringify(r));
  assert.match(r.structuredContent.text, /^, there was a little girl named Lily/);

  const again = await client.callTool({ name: 'load_model', arguments: { name: 'extra', path: 'stories260K.gguf' } });
  assert.equal(again.isError, true);
  assert.match(again.content[0].text, /already/);

  notes.length = 0;
  const gone = await client.callTool({ name: 'unload_model', arguments: { name: 'extra' } });
  assert.equal(gone.isError, undefined, JSON.stringify(gone));
  assert.deepEqual(await names(client), ['stories']);
  await waitFor(notes, (n) => n.method === 'notifications/resources/list_changed');
  await waitFor(notes, (n) => n.method === 'notifications/resources/updated' && n.params.uri === 'llmux://models/extra');
  const refused = await client.callTool({ name: 'complete', arguments: { model: 'extra', prompt: 'x', max_tokens: 2 } });
  assert.equal(refused.isError, true);
  const twice = await client.callTool({ name: 'unload_model', arguments: { name: 'extra' } });
  assert.equal(twice.isError, true);
  assert.match(twice.content[0].text, /does not exist/);
});

test('unload_model cancels a generation running on the model', async () => {
  const client = await connect(base);
  const load = await client.callTool({ name: 'load_model', arguments: { name: 'busy', path: 'stories260K.gguf' } });
  assert.equal(load.isError, undefined, JSON.stringify(load));
  let pieces = 0;
  const running = client.callTool({ name: 'complete', arguments: { model: 'busy', prompt: 'Once upon a time', max_tokens: 400 } },
    undefined, { onprogress: () => { pieces += 1; }, timeout: 30000 });
  while (pieces === 0) await new Promise((r) => setTimeout(r, 5));
  const gone = await client.callTool({ name: 'unload_model', arguments: { name: 'busy' } });
  assert.equal(gone.isError, undefined, JSON.stringify(gone));
  // The generation ends at once, as a tool error (the caller did not cancel it).
  const ended = await running;
  assert.equal(ended.isError, true);
  assert.match(ended.content[0].text, /cancelled/);
  assert.ok(pieces < 400);
  assert.deepEqual(await names(client), ['stories']);
});

test('only files inside --model-dir, and only good ones, are loaded', async () => {
  const client = await connect(base);
  const load = (path) => client.callTool({ name: 'load_model', arguments: { name: 'x', path } });
  for (const path of ['../../etc/passwd', '/etc/passwd', '../outside.gguf', 'escape.gguf', join(work, 'outside.gguf')]) {
    const r = await load(path);
    assert.equal(r.isError, true, path);
    assert.match(r.content[0].text, /inside the model directory/, path);
  }
  const corrupt = await load('corrupt.gguf');
  assert.equal(corrupt.isError, true);
  assert.match(corrupt.content[0].text, /cannot load x: .*corrupt\.gguf/);
  const missing = await load('missing.gguf');
  assert.equal(missing.isError, true);
  assert.match(missing.content[0].text, /missing\.gguf/);
  assert.deepEqual(await names(client), ['stories']);
  // The server is still well.
  const r = await client.callTool({ name: 'complete', arguments: { model: 'stories', prompt: 'Once', max_tokens: 4 } });
  assert.equal(r.isError, undefined);
});

test('with authentication, only models:manage sees and calls the tools', async () => {
  const server = await startServer([`stories=${stories}`], ['--model-dir', modelDir], { auth: true });
  servers.push(server);
  const admin = server.adminKey;
  const call = async (method, path, body) => {
    const r = await fetch(`${server.baseURL}${path}`, {
      method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = await r.json();
    assert.equal(r.status, 201, JSON.stringify(json));
    return json;
  };
  const user = await call('POST', '/admin/v1/users', { name: 'uma', password: `pw-${Math.random()}`, roles: ['user'] });
  const { key } = await call('POST', '/admin/v1/keys', { owner_user_id: user.id, name: 'uma-key' });

  const asUser = await connect(server.baseURL, { authorization: `Bearer ${key}` });
  const { tools } = await asUser.listTools();
  assert.ok(tools.some((t) => t.name === 'chat'));
  assert.equal(tools.some((t) => t.name === 'load_model' || t.name === 'unload_model'), false);
  await assert.rejects(
    asUser.callTool({ name: 'load_model', arguments: { name: 'x', path: 'stories260K.gguf' } }),
    (e) => e.code === -32602);
  await assert.rejects(asUser.callTool({ name: 'unload_model', arguments: { name: 'stories' } }),
    (e) => e.code === -32602);

  const asAdmin = await connect(server.baseURL, { authorization: `Bearer ${admin}` });
  const loaded = await asAdmin.callTool({ name: 'load_model', arguments: { name: 'extra', path: 'stories260K.gguf' } });
  assert.equal(loaded.isError, undefined, JSON.stringify(loaded));
  const gone = await asAdmin.callTool({ name: 'unload_model', arguments: { name: 'extra' } });
  assert.equal(gone.isError, undefined, JSON.stringify(gone));
});
