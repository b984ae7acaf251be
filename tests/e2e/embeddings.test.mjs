// Embeddings through the real client libraries: the `openai` client's embeddings.create (its
// default base64 encoding, which it decodes itself, and floats), the `ollama` client's embed
// and embeddings, on two random-weight Qwen3 files that differ only in their pooling metadata.
// Pooling is checked through causality: with mean pooling the (unnormalized) embedding of ids
// [0, n) is the mean of the last-token embeddings of the prefixes [0, i], i < n, and only the
// engine test compares against llama.cpp; here every expected value is computed by this test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { BIN, SHARED, startServer } from './server.mjs';

let server, dir, openai, ollama;
const HIDDEN = 64;

function makeModel(pooling) {
  const out = join(dir, `emb-${pooling}.gguf`);
  execFileSync(BIN, ['model', 'create', '--arch', 'qwen3', '--hidden', String(HIDDEN), '--layers', '2',
    '--heads', '2', '--kv-heads', '1', '--head-dim', '32', '--ffn', '128', '--type', 'f32',
    '--vocab-from', join(SHARED, 'models/qwen3-vocab.gguf'), '--seed', '11', '--ctx', '64',
    '--pooling', pooling, '--out', out]);
  return out;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llmux-embed-'));
  server = await startServer([`emb-last=${makeModel('last')}`, `emb-mean=${makeModel('mean')}`],
    ['--ctx-size', '64']);
  openai = new OpenAI({ baseURL: server.baseURL + '/v1', apiKey: 'none', maxRetries: 0 });
  ollama = new Ollama({ host: server.baseURL });
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function post(path, body) {
  const r = await fetch(server.baseURL + path, { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const normalized = (v) => { const n = norm(v); return v.map((x) => x / n); };
function assertClose(got, want, tol, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < got.length; ++i) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= tol, `${what}: max difference ${worst} > ${tol}`);
}

test('openai client: base64 (the client default) and float give the same unit vectors', async () => {
  const b64 = await openai.embeddings.create({ model: 'emb-last', input: 'Hello, world' });
  const flt = await openai.embeddings.create({ model: 'emb-last', input: 'Hello, world',
    encoding_format: 'float' });
  assert.equal(b64.object, 'list');
  assert.equal(b64.model, 'emb-last');
  assert.equal(b64.data.length, 1);
  assert.equal(b64.data[0].object, 'embedding');
  assert.equal(b64.data[0].index, 0);
  assert.equal(b64.data[0].embedding.length, HIDDEN);
  assertClose(b64.data[0].embedding, flt.data[0].embedding, 1e-7, 'base64 vs float');
  assert.ok(Math.abs(norm(flt.data[0].embedding) - 1) < 1e-5, 'L2-normalized');
  const ids = (await post('/tokenize', { model: 'emb-last', prompt: 'Hello, world' })).json.tokens;
  assert.equal(flt.usage.prompt_tokens, ids.length);
  assert.equal(flt.usage.total_tokens, ids.length);
  // Token ids as input give the same vector as the text.
  const byIds = await openai.embeddings.create({ model: 'emb-last', input: ids, encoding_format: 'float' });
  assertClose(byIds.data[0].embedding, flt.data[0].embedding, 1e-7, 'ids vs text');
});

test('a batch of inputs equals one call per input, in order', async () => {
  const texts = ['first input', 'a second, longer input with more tokens in it', 'x', '日本語のテキスト'];
  const batch = await openai.embeddings.create({ model: 'emb-mean', input: texts, encoding_format: 'float' });
  assert.equal(batch.data.length, texts.length);
  let tokens = 0;
  for (let i = 0; i < texts.length; ++i) {
    assert.equal(batch.data[i].index, i);
    const one = await openai.embeddings.create({ model: 'emb-mean', input: texts[i], encoding_format: 'float' });
    assertClose(batch.data[i].embedding, one.data[0].embedding, 1e-6, `input ${i}`);
    tokens += one.usage.prompt_tokens;
  }
  assert.equal(batch.usage.prompt_tokens, tokens);
  // Different inputs give different vectors.
  assert.ok(Math.abs(batch.data[0].embedding[0] - batch.data[1].embedding[0]) > 1e-6 ||
            Math.abs(batch.data[0].embedding[1] - batch.data[1].embedding[1]) > 1e-6);
});

test('dimensions keeps the first values and normalizes them again', async () => {
  const full = (await openai.embeddings.create({ model: 'emb-last', input: 'matryoshka',
    encoding_format: 'float', normalize: false })).data[0].embedding;
  const cut = (await openai.embeddings.create({ model: 'emb-last', input: 'matryoshka',
    encoding_format: 'float', dimensions: 16 })).data[0].embedding;
  assertClose(cut, normalized(full.slice(0, 16)), 1e-6, 'dimensions 16');
});

test('the GGUF pooling type picks the pooling: mean is the mean of the prefixes\' last tokens', async () => {
  const ids = (await post('/tokenize', { model: 'emb-mean',
    prompt: 'The quick brown fox jumps over the lazy dog', add_special_tokens: false })).json.tokens;
  assert.ok(ids.length >= 6);
  const embed = async (model, input) => (await openai.embeddings.create({ model, input,
    encoding_format: 'float', normalize: false })).data[0].embedding;
  const sum = new Array(HIDDEN).fill(0);
  for (let i = 1; i <= ids.length; ++i) {
    const e = await embed('emb-last', ids.slice(0, i));
    for (let k = 0; k < HIDDEN; ++k) sum[k] += e[k];
  }
  const mean = await embed('emb-mean', ids);
  assertClose(mean, sum.map((x) => x / ids.length), 1e-4, 'mean pooling');
  const last = await embed('emb-last', ids);
  assert.ok(Math.max(...last.map((x, k) => Math.abs(x - mean[k]))) > 1e-3, 'last differs from mean');
});

test('ollama client: embed (normalized) and the older embeddings (as pooled)', async () => {
  const inputs = ['Hello, world', 'why is the sky blue?'];
  const r = await ollama.embed({ model: 'emb-last', input: inputs });
  assert.equal(r.embeddings.length, 2);
  assert.equal(r.prompt_eval_count > 0, true);
  for (let i = 0; i < inputs.length; ++i) {
    const want = (await openai.embeddings.create({ model: 'emb-last', input: inputs[i],
      encoding_format: 'float' })).data[0].embedding;
    assertClose(r.embeddings[i], want, 1e-6, `ollama embed ${i}`);
  }
  const legacy = await ollama.embeddings({ model: 'emb-last', prompt: inputs[0] });
  const raw = (await openai.embeddings.create({ model: 'emb-last', input: inputs[0],
    encoding_format: 'float', normalize: false })).data[0].embedding;
  assertClose(legacy.embedding, raw, 1e-6, 'ollama embeddings (not normalized)');
  // Ollama truncates an over-long input unless told not to.
  const long = 'word '.repeat(200);
  const cut = await ollama.embed({ model: 'emb-mean', input: long });
  assert.equal(cut.prompt_eval_count, 64);
  await assert.rejects(ollama.embed({ model: 'emb-mean', input: long, truncate: false }),
    (e) => e.status_code === 400 && /context/.test(e.error));
});

test('bad input gets OpenAI error objects naming the parameter', async () => {
  const bad = async (body, param, status = 400) => {
    const r = await post('/v1/embeddings', body);
    assert.equal(r.status, status, JSON.stringify(body).slice(0, 80));
    assert.equal(typeof r.json.error?.message, 'string');
    if (param) assert.equal(r.json.error.param, param, JSON.stringify(r.json));
  };
  await bad({ model: 'emb-last' }, 'input');
  await bad({ model: 'emb-last', input: [] }, 'input');
  await bad({ model: 'emb-last', input: [{}] }, 'input[0]');
  await bad({ model: 'emb-last', input: 'x', encoding_format: 'int8' }, 'encoding_format');
  await bad({ model: 'emb-last', input: 'x', dimensions: 0 }, 'dimensions');
  await bad({ model: 'emb-last', input: 'x', dimensions: HIDDEN + 1 }, 'dimensions');
  await bad({ model: 'emb-last', input: [1, 10_000_000] }, 'input');
  await bad({ model: 'emb-last', input: new Array(257).fill('x') }, 'input');
  await bad({ model: 'emb-last', input: 'word '.repeat(200) }, 'input');
  await bad({ model: 'no-such-model', input: 'x' }, null, 404);
  // The openai client surfaces them as its own error class.
  await assert.rejects(openai.embeddings.create({ model: 'emb-last', input: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'input');
  // The server still answers.
  assert.equal((await openai.embeddings.create({ model: 'emb-last', input: 'ok' })).data.length, 1);
});
