// The model registry end to end: a `llmux serve` of its own with auth on. A copy of a shared
// model file is registered over /admin/v1/registry/versions (its digest checked against node's
// own sha256), again (idempotent), and a text file is refused; tags move and roll back; the
// served model gets default parameters that the `openai` npm client sees take effect on chat
// completions that leave them out (max_tokens, seed, system prompt) and not on those that give
// them; the parameter change is rolled back. A user key without models:read / models:manage
// gets 403; bad input 400, unknown things 404, conflicts 409. `llmux model list|show` read the
// same store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { BIN, SHARED, startServer } from './server.mjs';

const MODEL = 'stories';
const root = mkdtempSync(join(tmpdir(), 'llmux-e2e-registry-'));
const v1File = join(root, 'stories-copy.gguf');
const v2File = join(root, 'vocab-copy.gguf');
let server;
let admin;
let userKey;
let v1;  // digests
let v2;

const sha256 = (path) => 'sha256:' + createHash('sha256').update(readFileSync(path)).digest('hex');

async function call(method, path, key, body) {
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(server.baseURL + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* left null */ }
  return { status: r.status, json, text };
}

function client(key = admin) {
  return new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: key, maxRetries: 0 });
}

const prompt = [{ role: 'user', content: 'Once upon a time' }];

before(async () => {
  copyFileSync(join(SHARED, 'models/stories260K.gguf'), v1File);
  copyFileSync(join(SHARED, 'models/qwen3-vocab.gguf'), v2File);
  server = await startServer([`${MODEL}=${join(SHARED, 'models/stories260K.gguf')}`], [],
    { auth: true, dataDir: join(root, 'data') });
  admin = server.adminKey;
  const u = await call('POST', '/admin/v1/users', admin, { name: 'ulla', roles: ['user'] });
  assert.equal(u.status, 201, u.text);
  const k = await call('POST', '/admin/v1/keys', admin, { owner_user_id: u.json.id, name: 'ulla-key' });
  assert.equal(k.status, 201, k.text);
  userKey = k.json.key;
});
after(async () => {
  if (server) await server.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('model registry', () => {
  test('registering names a version by its sha256, once; a file that is not GGUF is refused', async () => {
    const first = await call('POST', '/admin/v1/registry/versions', admin, { path: v1File, model: MODEL });
    assert.equal(first.status, 201, first.text);
    v1 = sha256(v1File);
    assert.equal(first.json.created, true);
    assert.equal(first.json.version.digest, v1);
    assert.equal(first.json.version.size_bytes, readFileSync(v1File).length);
    assert.equal(first.json.version.architecture, 'llama');
    assert.equal(first.json.tag_change.target, 'latest');

    const again = await call('POST', '/admin/v1/registry/versions', admin, { path: v1File, model: MODEL, tag: 'latest' });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.created, false);
    assert.equal(again.json.tag_change.id, 0);

    const second = await call('POST', '/admin/v1/registry/versions', admin, { path: v2File, model: MODEL, tag: null });
    assert.equal(second.status, 201, second.text);
    v2 = sha256(v2File);
    assert.equal(second.json.version.digest, v2);
    assert.equal(second.json.tag_change, null);

    const text = join(root, 'notes.txt');
    writeFileSync(text, 'not a model at all');
    const refused = await call('POST', '/admin/v1/registry/versions', admin, { path: text, model: MODEL });
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.json.error.message, /not a readable GGUF/);
    const missing = await call('POST', '/admin/v1/registry/versions', admin, { path: join(root, 'nope.gguf'), model: MODEL });
    assert.equal(missing.status, 404, missing.text);

    const shown = await call('GET', `/admin/v1/registry/models?name=${MODEL}`, admin);
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual(shown.json.versions.map((v) => v.digest), [v1, v2]);
    assert.deepEqual(shown.json.tags.map((t) => [t.name, t.digest]), [['latest', v1]]);
    const resolved = await call('GET', `/admin/v1/registry/resolve?ref=${MODEL}`, admin);
    assert.equal(resolved.json.digest, v1);
  });

  test('a tag moves and rolls back; the rollback is recorded', async () => {
    const moved = await call('PUT', '/admin/v1/registry/tags', admin, { model: MODEL, tag: 'latest', digest: v2 });
    assert.equal(moved.status, 200, moved.text);
    assert.deepEqual(moved.json.before, { digest: v1 });
    assert.deepEqual(moved.json.after, { digest: v2 });
    assert.equal((await call('GET', `/admin/v1/registry/resolve?ref=${MODEL}:latest`, admin)).json.digest, v2);

    const conflict = await call('DELETE', `/admin/v1/registry/versions?model=${MODEL}&digest=${v2}`, admin);
    assert.equal(conflict.status, 409, conflict.text);

    const back = await call('POST', '/admin/v1/registry/rollback', admin, { change_id: moved.json.id });
    assert.equal(back.status, 200, back.text);
    assert.equal(back.json.rollback_of, moved.json.id);
    assert.equal((await call('GET', `/admin/v1/registry/resolve?ref=${MODEL}`, admin)).json.digest, v1);

    const history = await call('GET', `/admin/v1/registry/history?model=${MODEL}&limit=2`, admin);
    assert.equal(history.status, 200, history.text);
    assert.deepEqual(history.json.data.map((c) => c.id), [back.json.id, moved.json.id]);
    assert.equal(history.json.has_more, true);
  });

  test('requests that leave parameters out get the model defaults; given ones win', async () => {
    const openai = client();
    const plain = await openai.chat.completions.create({ model: MODEL, messages: prompt, max_tokens: 4, temperature: 0 });
    const plainPromptTokens = plain.usage.prompt_tokens;

    const system = 'One day, a little girl named Lily went to the park.';
    const set = await call('PUT', '/admin/v1/registry/parameters', admin,
      { model: MODEL, parameters: { max_tokens: 3, temperature: 1.0, seed: 7, system_prompt: system } });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.json.before, {});
    assert.deepEqual(set.json.after, { max_tokens: 3, temperature: 1.0, seed: 7, system_prompt: system });

    // max_tokens from the defaults.
    const a = await openai.chat.completions.create({ model: MODEL, messages: prompt });
    assert.equal(a.usage.completion_tokens, 3);
    assert.equal(a.choices[0].finish_reason, 'length');
    // The default system prompt is in the prompt: as many tokens as when the client sends it.
    const own = await openai.chat.completions.create(
      { model: MODEL, messages: [{ role: 'system', content: system }, ...prompt], max_tokens: 1 });
    assert.equal(a.usage.prompt_tokens, own.usage.prompt_tokens);
    assert.ok(a.usage.prompt_tokens > plainPromptTokens, `${a.usage.prompt_tokens} > ${plainPromptTokens}`);
    // Sampling at temperature 1 with the default seed: the same text each time, and the same as
    // a request that gives that seed itself.
    const b = await openai.chat.completions.create({ model: MODEL, messages: prompt, max_tokens: 12 });
    const c = await openai.chat.completions.create({ model: MODEL, messages: prompt, max_tokens: 12 });
    const seeded = await openai.chat.completions.create({ model: MODEL, messages: prompt, max_tokens: 12, seed: 7 });
    assert.equal(b.choices[0].message.content, c.choices[0].message.content);
    assert.equal(b.choices[0].message.content, seeded.choices[0].message.content);
    // Explicit values win.
    const explicit = await openai.chat.completions.create({ model: MODEL, messages: prompt, max_tokens: 6, temperature: 0 });
    assert.equal(explicit.usage.completion_tokens, 6);

    // Rolled back: no defaults again.
    const back = await call('POST', '/admin/v1/registry/rollback', admin, { change_id: set.json.id });
    assert.equal(back.status, 200, back.text);
    assert.deepEqual(back.json.after, {});
    const d = await openai.chat.completions.create({ model: MODEL, messages: prompt, max_tokens: 4, temperature: 0 });
    assert.equal(d.usage.prompt_tokens, plainPromptTokens);
    assert.equal(d.choices[0].message.content, plain.choices[0].message.content);
  });

  test('permissions and bad input', async () => {
    for (const [method, path, body] of [
      ['GET', '/admin/v1/registry/models'],
      ['GET', '/admin/v1/registry/history'],
      ['PUT', '/admin/v1/registry/parameters', { model: MODEL, parameters: { max_tokens: 1 } }],
      ['POST', '/admin/v1/registry/versions', { path: v1File, model: 'x' }],
      ['POST', '/admin/v1/registry/rollback', { change_id: 1 }],
    ]) {
      const r = await call(method, path, userKey, body);
      assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
      assert.equal(typeof r.json.error.message, 'string');
    }
    const cases = [
      ['PUT', '/admin/v1/registry/tags', { model: MODEL, tag: 'a:b', digest: v1 }, 400, 'tag'],
      ['PUT', '/admin/v1/registry/tags', { model: 'x'.repeat(200), tag: 't', digest: v1 }, 400, 'name'],
      ['PUT', '/admin/v1/registry/tags', { model: 'ghost', tag: 't', digest: v1 }, 404],
      ['PUT', '/admin/v1/registry/parameters', { model: MODEL, parameters: { top_p: 2 } }, 400, 'top_p'],
      ['PUT', '/admin/v1/registry/parameters', { model: MODEL, parameters: { bogus: 1 } }, 400, 'parameters'],
      ['PUT', '/admin/v1/registry/parameters', { model: MODEL, parameters: { max_tokens: 'ten' } }, 400, 'max_tokens'],
      ['PUT', '/admin/v1/registry/parameters', { model: MODEL, parameters: {}, extra: 1 }, 400, 'extra'],
      ['POST', '/admin/v1/registry/rollback', { change_id: 'one' }, 400, 'change_id'],
      ['POST', '/admin/v1/registry/rollback', { change_id: 999999 }, 404],
      ['DELETE', `/admin/v1/registry/tags?model=${MODEL}&tag=nope`, undefined, 404],
      ['GET', '/admin/v1/registry/history?limit=0', undefined, 400, 'limit'],
      ['GET', '/admin/v1/registry/models?name=ghost', undefined, 404],
    ];
    for (const [method, path, body, status, param] of cases) {
      const r = await call(method, path, admin, body);
      assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(typeof r.json.error.message, 'string');
      if (param) assert.equal(r.json.error.param, param, r.text);
    }
    const deep = await fetch(server.baseURL + '/admin/v1/registry/tags', {
      method: 'PUT', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
      body: '['.repeat(100000),
    });
    assert.equal(deep.status, 400);
  });

  test('llmux model edits and reads the same store as the server', async () => {
    const args = ['--data-dir', join(root, 'data')];
    const llmux = (...a) => execFileSync(BIN, ['model', ...a, ...args], { encoding: 'utf8' });
    const list = llmux('list');
    assert.match(list, new RegExp(`^${MODEL}:latest\\s+${v1.slice(7, 19)}\\s`, 'm'));
    const show = llmux('show', MODEL);
    assert.ok(show.includes(v1) && show.includes(v2), show);

    assert.match(llmux('register', v1File, '--name', 'cli-model', '--tag', 'one'), /^registered cli-model sha256:/);
    assert.match(llmux('tag', 'cli-model:two', 'cli-model:one'), /tag\.set cli-model two/);
    assert.match(llmux('params', 'cli-model', '--set', '{"max_tokens":9}'), /parameters\.set/);
    const viaApi = await call('GET', '/admin/v1/registry/models?name=cli-model', admin);
    assert.equal(viaApi.status, 200, viaApi.text);
    assert.deepEqual(viaApi.json.tags.map((t) => [t.name, t.digest]), [['one', v1], ['two', v1]]);
    assert.deepEqual(viaApi.json.parameters, { max_tokens: 9 });
    assert.equal((llmux('history', 'cli-model').match(/^change \d+:/gm) ?? []).length, 4);
    llmux('rm', 'cli-model', '--all');
    assert.equal((await call('GET', '/admin/v1/registry/models?name=cli-model', admin)).status, 404);
    const audit = await call('GET', '/admin/v1/audit?limit=20', admin);
    const removal = audit.json.data.find((e) => e.action === 'registry.model.remove');
    assert.ok(removal, audit.text);
    assert.match(removal.actor, /^cli:/);
    assert.equal(removal.target, 'model:cli-model');
  });

  test('embeddings pass the registry\'s defaults layer unchanged', async () => {
    const r = await client().embeddings.create({ model: MODEL, input: ['a', 'b'], encoding_format: 'float' });
    assert.equal(r.data.length, 2);
    assert.ok(r.data[0].embedding.length > 0);
    assert.ok(r.usage.prompt_tokens > 0);
  });
});
