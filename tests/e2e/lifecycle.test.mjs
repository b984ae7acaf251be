// Dashboards and model lifecycle against real servers: the metric history
// (GET /admin/v1/metrics/history) after real completions, and keep-alive, idle unload and the
// loaded-model limit through the `ollama` npm client, /api/ps and GET /admin/v1/models; an
// idle-unloaded model loads again for chat, embeddings (openai, ollama), /tokenize, /detokenize.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Template } from '@huggingface/jinja';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SHARED, startServer } from './server.mjs';

const base = process.env.LLMUX_BASE_URL;
const model = process.env.LLMUX_MODEL; // stories260K
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function getJson(url) {
  const r = await fetch(url);
  return { status: r.status, body: await r.json() };
}

test('metric history: real completions show as requests and tokens per second', async () => {
  const before = Math.floor(Date.now() / 1000) - 1;
  let generated = 0;
  let prompt = 0;
  const n = 3;
  for (let i = 0; i < n; ++i) {
    const r = await fetch(`${base}/v1/completions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'Once upon a time', max_tokens: 12, ignore_eos: true }),
    });
    assert.equal(r.status, 200);
    const { usage } = await r.json();
    generated += usage.completion_tokens;
    prompt += usage.prompt_tokens;
  }
  assert.equal(generated, n * 12);
  // Intervals are reported once they have ended.
  await sleep(1100);
  const { status, body } = await getJson(
    `${base}/admin/v1/metrics/history?resolution=1s&model=${model}&since=${before}`);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.resolution_s, 1);
  assert.ok(Math.abs(body.now - Date.now() / 1000) < 5, String(body.now));
  assert.ok(body.models.includes(model), JSON.stringify(body.models));
  const sum = (f) => body.series.reduce((s, p) => s + p[f] * body.resolution_s, 0);
  assert.equal(sum('requests_per_s'), n);
  assert.equal(sum('generated_tokens_per_s'), generated);
  assert.equal(sum('prompt_tokens_per_s'), prompt);
  assert.equal(sum('errors_per_s'), 0);
  assert.ok(body.series.some((p) => p.generated_tokens_per_s > 0));
  const busy = body.series.filter((p) => p.requests_per_s > 0);
  for (const p of busy) {
    assert.ok(p.ttft_ms_p50 > 0 && p.ttft_ms_p99 >= p.ttft_ms_p50, JSON.stringify(p));
    assert.ok(p.itl_ms_p50 > 0 && p.itl_ms_p99 >= p.itl_ms_p50, JSON.stringify(p));
  }
  for (const p of body.series) {
    for (const f of ['t', 'requests_per_s', 'generated_tokens_per_s', 'prompt_tokens_per_s',
      'ttft_ms_p50', 'ttft_ms_p99', 'itl_ms_p50', 'itl_ms_p99', 'kv_used_fraction', 'queue_depth',
      'running', 'errors_per_s']) {
      assert.ok(f in p, `${f} missing in ${JSON.stringify(p)}`);
    }
    assert.ok(p.kv_used_fraction >= 0 && p.kv_used_fraction <= 1);
  }
  // All models together count at least these requests.
  const all = await getJson(`${base}/admin/v1/metrics/history?since=${before}`);
  assert.equal(all.status, 200);
  assert.ok(all.body.series.reduce((s, p) => s + p.requests_per_s, 0) >= n);

  const bad = await getJson(`${base}/admin/v1/metrics/history?resolution=5s`);
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /resolution/);
  assert.equal((await getJson(`${base}/admin/v1/metrics/history?model=nope`)).status, 404);
  assert.equal((await getJson(`${base}/admin/v1/metrics/history?limit=3`)).status, 400);
});

// A server of its own for the lifecycle: stories given on the command line (pinned), more
// copies loaded at run time through MCP load_model, at most 3 models at once.
const stories = join(SHARED, 'models/stories260K.gguf');
let lifecycleServer = null;
const mcpClients = [];
after(async () => {
  for (const c of mcpClients) await c.close().catch(() => {});
  if (lifecycleServer) await lifecycleServer.stop();
});

async function lifecycle() {
  if (!lifecycleServer) {
    lifecycleServer = await startServer([`stories=${stories}`],
      ['--model-dir', join(SHARED, 'models'), '--max-loaded-models', '3', '--keep-alive', '10m']);
  }
  return lifecycleServer.baseURL;
}

async function loadModel(url, args) {
  const client = new Client({ name: 'llmux-e2e-lifecycle', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
  mcpClients.push(client);
  const r = await client.callTool({ name: 'load_model', arguments: { path: 'stories260K.gguf', ...args } });
  return r;
}

async function adminModels(url) {
  const { status, body } = await getJson(`${url}/admin/v1/models`);
  assert.equal(status, 200, JSON.stringify(body));
  return Object.fromEntries(body.models.map((m) => [m.name, m]));
}

async function waitUntil(check, what, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms`);
    await sleep(50);
  }
}

const psNames = async (ollama) => (await ollama.ps()).models.map((m) => m.name);

test('keep_alive with the ollama client: "5m" sets the expiry, 0 unloads after the request', async () => {
  const url = await lifecycle();
  const ollama = new Ollama({ host: url });
  const loaded = await loadModel(url, { name: 'kept' });
  assert.ok(!loaded.isError, JSON.stringify(loaded));

  let models = await adminModels(url);
  assert.equal(models.kept.state, 'idle');
  assert.equal(models.kept.pinned, false);
  assert.equal(models.kept.keep_alive_s, 600); // --keep-alive 10m
  assert.ok(models.kept.weights_bytes > 0 && models.kept.kv_bytes > 0, JSON.stringify(models.kept));
  assert.equal(models.kept.memory_bytes, models.kept.weights_bytes + models.kept.kv_bytes);
  assert.equal(models.stories.pinned, true);
  assert.equal(models.stories.keep_alive_s, null);
  assert.equal(models.stories.expires_at, null);

  const r = await ollama.generate({ model: 'kept', prompt: 'Once upon a time', keep_alive: '5m',
    stream: false, options: { num_predict: 4 } });
  assert.ok(r.done);
  const ps = await ollama.ps();
  const kept = ps.models.find((m) => m.name === 'kept:latest');
  assert.ok(kept, JSON.stringify(ps));
  const ahead = new Date(kept.expires_at).getTime() - Date.now();
  assert.ok(ahead > 280e3 && ahead <= 300e3 + 1000, `expires in ${ahead} ms`);
  const pinned = ps.models.find((m) => m.name === 'stories:latest');
  assert.ok(new Date(pinned.expires_at).getTime() > Date.now() + 100 * 365 * 24 * 3600e3);
  models = await adminModels(url);
  assert.equal(models.kept.keep_alive_s, 300);
  assert.ok(Math.abs(models.kept.expires_at - (Date.now() / 1000 + 300)) < 20, String(models.kept.expires_at));

  // keep_alive 0: gone once the request has ended (no reload on demand: then it is not found).
  const last = await ollama.generate({ model: 'kept', prompt: 'Once upon a time', keep_alive: 0,
    stream: false, options: { num_predict: 4 } });
  assert.ok(last.done);
  await waitUntil(async () => !(await psNames(ollama)).includes('kept:latest'), 'unload after keep_alive 0');
  // /api/ps drops a model as it starts unloading; the admin list shows it as 'unloading' until
  // the engine is gone, then drops it too.
  const state = (await adminModels(url)).kept?.state;
  assert.ok(state === undefined || state === 'unloading', String(state));
  await waitUntil(async () => (await adminModels(url)).kept === undefined, 'admin list after unload');
  // The next request loads it again on demand (and keep_alive 0 lets it go once more).
  const again = await ollama.generate({ model: 'kept', prompt: 'Once upon a time', keep_alive: 0,
    stream: false, options: { num_predict: 2 } });
  assert.ok(again.done && again.eval_count > 0, JSON.stringify(again));
  await waitUntil(async () => !(await psNames(ollama)).includes('kept:latest'), 'unload after the reload');
  // A name that never served and is not registered: still 404.
  await assert.rejects(ollama.generate({ model: 'never-loaded', prompt: 'x', stream: false }),
    (e) => e.status_code === 404);

  // The same on a model given on the command line does nothing: it stays.
  await ollama.generate({ model, prompt: 'Once upon a time', keep_alive: 0, stream: false, options: { num_predict: 2 } });
  await sleep(300);
  assert.ok((await psNames(ollama)).includes('stories:latest'));
});

test('load_model keep_alive: an idle model is unloaded when it runs out; Ollama\'s load call sets it', async () => {
  const url = await lifecycle();
  const ollama = new Ollama({ host: url });
  const loaded = await loadModel(url, { name: 'brief', keep_alive: 1 });
  assert.ok(!loaded.isError, JSON.stringify(loaded));
  assert.ok((await psNames(ollama)).includes('brief:latest'));
  await waitUntil(async () => !(await psNames(ollama)).includes('brief:latest'), 'idle unload', 4000);

  // A generate call without a prompt only loads; with keep_alive 0 it is Ollama's unload.
  assert.ok(!(await loadModel(url, { name: 'stop-me' })).isError);
  await ollama.generate({ model: 'stop-me', prompt: '', keep_alive: 0 });
  await waitUntil(async () => !(await psNames(ollama)).includes('stop-me:latest'), 'unload by the load call');
});

test('--max-loaded-models: the least recently used idle model makes room', async () => {
  const url = await lifecycle();
  const ollama = new Ollama({ host: url });
  assert.ok(!(await loadModel(url, { name: 'first' })).isError);
  assert.ok(!(await loadModel(url, { name: 'second' })).isError); // stories, first, second: full
  // first is used after second was loaded: second is now the least recently used.
  await ollama.generate({ model: 'first', prompt: 'Once', stream: false, options: { num_predict: 2 } });
  assert.ok(!(await loadModel(url, { name: 'third' })).isError);
  const models = await adminModels(url);
  assert.deepEqual(Object.keys(models).sort(), ['first', 'stories', 'third']);
  assert.deepEqual((await psNames(ollama)).sort(), ['first:latest', 'stories:latest', 'third:latest']);
});

test('on demand: an idle-unloaded model loads again for the next OpenAI request', async () => {
  const url = await lifecycle();
  const loaded = await loadModel(url, { name: 'nap', keep_alive: 1 });
  assert.ok(!loaded.isError, JSON.stringify(loaded));
  await waitUntil(async () => (await adminModels(url)).nap === undefined, 'idle unload', 5000);
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const r = await openai.chat.completions.create({ model: 'nap',
    messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 4 });
  assert.equal(r.model, 'nap');
  assert.ok(r.usage.completion_tokens > 0, JSON.stringify(r));
  const nap = (await adminModels(url)).nap;
  assert.ok(nap, 'nap is listed again');
  assert.ok(['idle', 'loaded'].includes(nap.state), JSON.stringify(nap));
  assert.equal(nap.keep_alive_s, 1);
  // Unloaded on purpose: forgotten, so not found (in OpenAI's error shape).
  await waitUntil(async () => (await adminModels(url)).nap === undefined, 'idle unload again', 5000);
  const mcp = new Client({ name: 'llmux-e2e-lifecycle', version: '1.0.0' });
  await mcp.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
  mcpClients.push(mcp);
  assert.ok(!(await loadModel(url, { name: 'gone' })).isError);
  const un = await mcp.callTool({ name: 'unload_model', arguments: { name: 'gone' } });
  assert.ok(!un.isError, JSON.stringify(un));
  await assert.rejects(openai.chat.completions.create({ model: 'gone',
    messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }), (e) => e.status === 404);
});

test('on demand: an idle-unloaded model answers embeddings, /tokenize and /detokenize', async () => {
  const url = await lifecycle();
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const ollama = new Ollama({ host: url });
  const post = async (path, body) => {
    const r = await fetch(url + path, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body) });
    return { status: r.status, json: await r.json() };
  };
  // The reference: the same file under its pinned command-line name.
  const input = ['Once upon a time', 'there was a cat'];
  const want = await openai.embeddings.create({ model, input });
  const wantIds = (await post('/tokenize', { model, prompt: 'Once upon a time' })).json.tokens;
  assert.ok(wantIds.length > 2);
  const napped = async () => waitUntil(async () => (await adminModels(url)).doze === undefined,
    'idle unload', 5000);

  assert.ok(!(await loadModel(url, { name: 'doze', keep_alive: 1 })).isError);
  await napped();
  const got = await openai.embeddings.create({ model: 'doze', input });
  assert.equal(got.model, 'doze');
  assert.equal(got.data.length, 2);
  // The same file: the same vectors, up to the rounding of rows batched differently.
  const close = (a, b) => a.length === b.length && a.every((x, j) => Math.abs(x - b[j]) < 1e-5);
  for (let i = 0; i < 2; ++i) assert.ok(close(got.data[i].embedding, want.data[i].embedding), `input ${i}`);
  assert.equal(got.usage.prompt_tokens, want.usage.prompt_tokens);
  assert.ok((await adminModels(url)).doze, 'loaded again by the embeddings call');

  await napped();
  const tok = await post('/tokenize', { model: 'doze', prompt: 'Once upon a time' });
  assert.equal(tok.status, 200, JSON.stringify(tok.json));
  assert.deepEqual(tok.json.tokens, wantIds);
  assert.ok(tok.json.max_model_len > 0, JSON.stringify(tok.json));

  await napped();
  const detok = await post('/detokenize', { model: 'doze', tokens: wantIds });
  assert.equal(detok.status, 200, JSON.stringify(detok.json));
  assert.equal(detok.json.prompt, (await post('/detokenize', { model, tokens: wantIds })).json.prompt);

  await napped();
  const embed = await ollama.embed({ model: 'doze', input: input[0] });
  assert.equal(embed.embeddings.length, 1);
  assert.ok(close(embed.embeddings[0], want.data[0].embedding));

  // Never served, not registered: still OpenAI's 404 (model_not_found), not a load.
  const none = await post('/tokenize', { model: 'never-served', prompt: 'x' });
  assert.equal(none.status, 404, JSON.stringify(none.json));
  await assert.rejects(openai.embeddings.create({ model: 'never-served', input: 'x' }),
    (e) => e.status === 404);
});

// The registry's load settings: a server with authentication (so with the registry), the
// stories file registered as "tiny" with a small context and a chat template of its own.
const TEMPLATE = '{% for m in messages %}<{{ m.role }}>{{ m.content | upper }}</{{ m.role }}>{% endfor %}';

test('registry load settings: context length and chat template apply at the next load', async () => {
  const server = await startServer([`stories=${stories}`], [], { auth: true });
  try {
    const key = server.adminKey;
    const call = async (method, path, body) => {
      const r = await fetch(server.baseURL + path, { method,
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: r.status, json: await r.json() };
    };
    let r = await call('POST', '/admin/v1/registry/versions', { path: stories, model: 'tiny' });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    r = await call('PUT', '/admin/v1/registry/parameters',
      { model: 'tiny', parameters: { context_length: 64, chat_template: TEMPLATE } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.match(r.json.load_settings_apply, /next load/);

    // Registered, not loaded: the first request loads it, with the registry's settings.
    const openai = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: key, maxRetries: 0 });
    const first = await openai.chat.completions.create({ model: 'tiny',
      messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    assert.ok(first.usage.prompt_tokens > 0);
    const tokenize = async (prompt) => (await call('POST', '/tokenize',
      { model: 'tiny', prompt, add_special_tokens: false })).json;
    assert.equal((await tokenize('x')).max_model_len, 64);

    // The prompt is the override rendered (by @huggingface/jinja here): its tokens, counted.
    const messages = [{ role: 'user', content: 'Once upon a time there was a cat' }];
    const rendered = new Template(TEMPLATE).render({ messages, add_generation_prompt: true });
    assert.equal(rendered, '<user>ONCE UPON A TIME THERE WAS A CAT</user>');
    const anthropic = new Anthropic({ baseURL: server.baseURL, apiKey: key, maxRetries: 0 });
    const counted = await anthropic.messages.countTokens({ model: 'tiny', messages });
    assert.equal(counted.input_tokens, (await tokenize(rendered)).tokens.length);
    // The same model under its command-line name keeps the file's plain template.
    const plain = await anthropic.messages.countTokens({ model: 'stories', messages });
    assert.notEqual(plain.input_tokens, counted.input_tokens);

    // Longer than the registry's 64 tokens: OpenAI's 400.
    const long = 'the cat sat on the mat and '.repeat(20);
    await assert.rejects(openai.chat.completions.create({ model: 'tiny',
      messages: [{ role: 'user', content: long }], max_tokens: 2 }),
    (e) => e.status === 400 && /context/.test(e.message));
    // The command-line model (its flags: 512) takes it.
    const ok = await openai.chat.completions.create({ model: 'stories',
      messages: [{ role: 'user', content: long }], max_tokens: 2 });
    assert.ok(ok.usage.prompt_tokens > 64);

    // A new context length applies at the next load: a hot update reloads it.
    r = await call('PUT', '/admin/v1/registry/parameters', { model: 'tiny', parameters: { context_length: 256 } });
    assert.equal(r.status, 200);
    assert.equal((await tokenize('x')).max_model_len, 64, 'not before the next load');
    r = await call('POST', '/admin/v1/models/update', { name: 'tiny', ref: 'tiny' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal((await tokenize('x')).max_model_len, 256);
    const longer = await openai.chat.completions.create({ model: 'tiny',
      messages: [{ role: 'user', content: long }], max_tokens: 2 });
    assert.ok(longer.usage.prompt_tokens > 64);
    // Without the override, the file's (plain) template again.
    const back = await anthropic.messages.countTokens({ model: 'tiny', messages });
    assert.equal(back.input_tokens, plain.input_tokens);

    // A registered version whose file is gone: 503 with the reason, in OpenAI's error JSON.
    const { mkdtempSync, copyFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'llmux-e2e-ghost-'));
    const copy = join(dir, 'ghost.gguf');
    copyFileSync(stories, copy);
    r = await call('POST', '/admin/v1/registry/versions', { path: copy, model: 'ghost2' });
    assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.json));
    rmSync(dir, { recursive: true, force: true });
    const failed = await fetch(`${server.baseURL}/v1/chat/completions`, { method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'ghost2', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }) });
    assert.equal(failed.status, 503);
    const err = (await failed.json()).error;
    assert.match(err.message, /ghost\.gguf/);
    assert.equal(err.param, 'model');
  } finally {
    await server.stop();
  }
});
