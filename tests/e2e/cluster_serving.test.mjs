// Embeddings in the gateway role (issue 16): `llmux gateway` sends /v1/embeddings, /api/embed and
// /api/embeddings to a `llmux worker` over the worker protocol. The same model served all in one
// by `llmux serve` is the reference: the official openai and ollama clients must get the same
// vectors (within 1e-5) and the same errors (status and parameter) from both.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { BIN, SHARED, startServer } from './server.mjs';
import { startGateway, startWorker, waitFor } from './cluster.mjs';

const HIDDEN = 64;
let dir, server, worker, gateway;
let viaGateway, viaServer, ollamaGateway, ollamaServer;

function makeModel(pooling) {
  const out = join(dir, `emb-${pooling}.gguf`);
  execFileSync(BIN, ['model', 'create', '--arch', 'qwen3', '--hidden', String(HIDDEN), '--layers', '2',
    '--heads', '2', '--kv-heads', '1', '--head-dim', '32', '--ffn', '128', '--type', 'f32',
    '--vocab-from', join(SHARED, 'models/qwen3-vocab.gguf'), '--seed', '11', '--ctx', '64',
    '--pooling', pooling, '--out', out]);
  return out;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llmux-cluster-embed-'));
  const models = [`emb-last=${makeModel('last')}`, `emb-mean=${makeModel('mean')}`];
  server = await startServer(models, ['--ctx-size', '64']);
  worker = await startWorker(models, ['--ctx-size', '64']);
  gateway = await startGateway(['--worker', worker.address]);
  await waitFor('the worker\'s models in the gateway', async () =>
    (await (await fetch(`${gateway.baseURL}/v1/models`)).json()).data?.length === 2);
  const client = (baseURL) => new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  viaGateway = client(gateway.baseURL);
  viaServer = client(server.baseURL);
  ollamaGateway = new Ollama({ host: gateway.baseURL });
  ollamaServer = new Ollama({ host: server.baseURL });
});

after(async () => {
  await gateway?.stop();
  await worker?.stop('SIGKILL');
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function assertClose(got, want, tol, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < got.length; ++i) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= tol, `${what}: max difference ${worst} > ${tol}`);
}

test('openai embeddings.create through the gateway equals the all-in-one server', async () => {
  const texts = ['first input', 'a second, longer input with more tokens in it', 'x', '日本語のテキスト'];
  for (const model of ['emb-last', 'emb-mean']) {
    for (const extra of [{}, { encoding_format: 'float' }, { encoding_format: 'float', dimensions: 16 },
      { encoding_format: 'float', normalize: false }]) {
      const want = await viaServer.embeddings.create({ model, input: texts, ...extra });
      const got = await viaGateway.embeddings.create({ model, input: texts, ...extra });
      const what = `${model} ${JSON.stringify(extra)}`;
      assert.equal(got.object, 'list');
      assert.equal(got.model, model);
      assert.equal(got.data.length, texts.length, what);
      for (let i = 0; i < texts.length; ++i) {
        assert.equal(got.data[i].index, i);
        assert.equal(got.data[i].embedding.length, extra.dimensions ?? HIDDEN);
        assertClose(got.data[i].embedding, want.data[i].embedding, 1e-5, `${what} input ${i}`);
      }
      assert.deepEqual(got.usage, want.usage, what);
    }
  }
  // Token ids as input.
  const ids = [[9707, 11, 1879], [785, 3974]];
  const want = await viaServer.embeddings.create({ model: 'emb-mean', input: ids, encoding_format: 'float' });
  const got = await viaGateway.embeddings.create({ model: 'emb-mean', input: ids, encoding_format: 'float' });
  for (let i = 0; i < ids.length; ++i) assertClose(got.data[i].embedding, want.data[i].embedding, 1e-5, `ids ${i}`);
});

test('ollama embed and embeddings through the gateway equal the all-in-one server', async () => {
  const input = ['Hello, world', 'why is the sky blue?'];
  const want = await ollamaServer.embed({ model: 'emb-mean', input });
  const got = await ollamaGateway.embed({ model: 'emb-mean', input });
  assert.equal(got.embeddings.length, 2);
  for (let i = 0; i < 2; ++i) assertClose(got.embeddings[i], want.embeddings[i], 1e-5, `embed ${i}`);
  assert.equal(got.prompt_eval_count, want.prompt_eval_count);
  const legacyWant = await ollamaServer.embeddings({ model: 'emb-last', prompt: input[0] });
  const legacyGot = await ollamaGateway.embeddings({ model: 'emb-last', prompt: input[0] });
  assertClose(legacyGot.embedding, legacyWant.embedding, 1e-5, 'embeddings');
  // Truncation (Ollama's default) happens on the worker as it does all in one.
  const long = 'word '.repeat(200);
  const cut = await ollamaGateway.embed({ model: 'emb-mean', input: long });
  assert.equal(cut.prompt_eval_count, 64);
  await assert.rejects(ollamaGateway.embed({ model: 'emb-mean', input: long, truncate: false }),
    (e) => e.status_code === 400 && /context/.test(e.error));
});

test('bad input gets the same errors through the gateway as all in one', async () => {
  const post = async (baseURL, body) => {
    const r = await fetch(`${baseURL}/v1/embeddings`, { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, json: await r.json() };
  };
  const bodies = [
    { model: 'emb-last', input: [] },
    { model: 'emb-last', input: 'x', dimensions: HIDDEN + 1 },
    { model: 'emb-last', input: [1, 10_000_000] },
    { model: 'emb-last', input: new Array(257).fill('x') },
    { model: 'emb-last', input: 'word '.repeat(200) },
    { model: 'no-such-model', input: 'x' },
  ];
  for (const body of bodies) {
    const want = await post(server.baseURL, body);
    const got = await post(gateway.baseURL, body);
    const what = JSON.stringify(body).slice(0, 60);
    assert.ok(want.status >= 400, what);
    assert.equal(got.status, want.status, what);
    assert.equal(typeof got.json.error?.message, 'string', what);
    assert.equal(got.json.error.param ?? null, want.json.error.param ?? null, what);
    assert.equal(got.json.error.type, want.json.error.type, what);
  }
  await assert.rejects(viaGateway.embeddings.create({ model: 'emb-last', input: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'input');
});

test('concurrent embedding calls through the gateway all give the all-in-one vectors', async () => {
  const texts = Array.from({ length: 40 }, (_, i) => `input number ${i}`);
  const want = await viaServer.embeddings.create({ model: 'emb-mean', input: texts, encoding_format: 'float' });
  const results = await Promise.all(Array.from({ length: 6 }, () =>
    viaGateway.embeddings.create({ model: 'emb-mean', input: texts, encoding_format: 'float' })));
  for (const got of results) {
    for (let i = 0; i < texts.length; ++i) assertClose(got.data[i].embedding, want.data[i].embedding, 1e-5, `${i}`);
  }
});
