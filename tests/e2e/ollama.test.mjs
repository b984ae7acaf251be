// The official `ollama` npm client (and plain fetch) against a running llmux serve (see run.mjs):
// the Ollama API of gateway/ollama. A second server with authentication on checks the keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { SHARED, referenceContinuation, startServer } from './server.mjs';

const base = process.env.LLMUX_BASE_URL;
const model = process.env.LLMUX_MODEL; // stories260K
const qwen = process.env.LLMUX_QWEN_MODEL;
const storiesFile = join(SHARED, 'models/stories260K.gguf');
const expected = referenceContinuation('Once upon a time'); // llama.cpp's greedy 64 tokens
const client = new Ollama({ host: base });

async function collect(stream) {
  const parts = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

async function post(path, body, headers = {}) {
  const r = await fetch(`${base}${path}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body,
  });
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
}

test('list: every served model with Ollama\'s fields', async () => {
  const { models } = await client.list();
  const names = models.map((m) => m.name).sort();
  const served = [model, qwen, process.env.LLMUX_MOE_MODEL, process.env.LLMUX_DEEPSEEK_MODEL];
  assert.deepEqual(names, served.map((n) => `${n}:latest`).sort());
  const stories = models.find((m) => m.name === `${model}:latest`);
  assert.equal(stories.model, `${model}:latest`);
  assert.equal(stories.details.format, 'gguf');
  assert.equal(stories.details.family, 'llama'); // stories260K is a llama2.c model
  assert.match(stories.digest, /^[0-9a-f]{64}$/);
  assert.ok(!Number.isNaN(Date.parse(stories.modified_at)));
  // The weights' bytes: most of the file, never more than it.
  const fileSize = statSync(storiesFile).size;
  assert.ok(stories.size > fileSize * 0.9 && stories.size <= fileSize, `${stories.size} of ${fileSize}`);
  assert.match(stories.details.parameter_size, /^2\d\dK$/); // "260K" in its name
  assert.equal(stories.details.quantization_level, 'F32');
});

test('show: details and model_info of one model; an unknown one is 404', async () => {
  const show = await client.show({ model });
  assert.equal(show.details.family, 'llama');
  assert.equal(show.model_info['general.architecture'], 'llama');
  const params = show.model_info['general.parameter_count'];
  assert.ok(params > 200000 && params < 300000, String(params));
  assert.ok(show.model_info['llama.context_length'] > 0);
  assert.match(show.modelfile, /FROM stories/);
  await assert.rejects(client.show({ model: 'no-such-model' }), (e) => {
    assert.equal(e.status_code, 404);
    assert.match(e.message, /no-such-model/);
    return true;
  });
});

test('ps: loaded models and when they expire', async () => {
  const { models } = await client.ps();
  const stories = models.find((m) => m.name === `${model}:latest`);
  assert.ok(stories, JSON.stringify(models));
  assert.ok(stories.size > 0);
  // A model given on the command line is never unloaded for idleness: it expires in the far
  // future, like keep_alive -1.
  assert.ok(Date.parse(stories.expires_at) > Date.now() + 100 * 365 * 24 * 3600 * 1000, stories.expires_at);
});

test('version by the client and by fetch', async () => {
  const { version } = await client.version();
  assert.match(version, /^\d+\.\d+\.\d+/);
  const r = await fetch(`${base}/api/version`);
  assert.equal(r.status, 200);
  assert.equal((await r.json()).version, version);
});

test('generate raw equals llama.cpp\'s continuation, whole and streamed', async () => {
  const req = { model, prompt: 'Once upon a time', raw: true, options: { temperature: 0, num_predict: 64 } };
  const whole = await client.generate(req);
  assert.equal(whole.response, expected);
  assert.equal(whole.done, true);
  assert.equal(whole.done_reason, 'length');
  assert.equal(whole.eval_count, 64);
  assert.equal(whole.prompt_eval_count, 5); // BOS + 4 tokens, as llama.cpp counts them
  for (const k of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration']) {
    assert.ok(Number.isInteger(whole[k]) && whole[k] >= 0, `${k}: ${whole[k]}`);
  }
  assert.ok(whole.total_duration >= whole.eval_duration);

  const parts = await collect(await client.generate({ ...req, stream: true }));
  assert.ok(parts.length > 2);
  assert.ok(parts.slice(0, -1).every((p) => p.done === false));
  const last = parts.at(-1);
  assert.equal(last.done, true);
  assert.equal(last.done_reason, 'length');
  assert.equal(last.eval_count, 64);
  assert.equal(parts.map((p) => p.response).join(''), expected);
});

test('generate honours options.stop and never emits it', async () => {
  const r = await client.generate({ model, prompt: 'Once upon a time', raw: true,
    options: { temperature: 0, num_predict: 64, stop: ['Lily'] } });
  assert.equal(r.response, expected.slice(0, expected.indexOf('Lily')));
  assert.equal(r.done_reason, 'stop');
});

test('generate through the chat template: streamed deltas equal the whole answer', async () => {
  const req = { model, prompt: 'Once upon a time', system: 'Tell a story.', options: { temperature: 0, num_predict: 24 } };
  const whole = await client.generate(req);
  assert.ok(whole.response.length > 0);
  const parts = await collect(await client.generate({ ...req, stream: true }));
  assert.equal(parts.map((p) => p.response).join(''), whole.response);
  assert.equal(parts.at(-1).eval_count, whole.eval_count);
});

test('chat, whole and streamed, same seed gives the same text', async () => {
  const req = { model, messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'Once upon a time' }],
    options: { temperature: 0.9, seed: 1234, num_predict: 40 } };
  const whole = await client.chat(req);
  assert.equal(whole.message.role, 'assistant');
  assert.ok(whole.message.content.length > 0);
  assert.equal(whole.done, true);
  assert.equal(whole.eval_count, 40);

  const parts = await collect(await client.chat({ ...req, stream: true }));
  assert.ok(parts.slice(0, -1).every((p) => p.done === false && p.message.role === 'assistant'));
  assert.equal(parts.map((p) => p.message.content).join(''), whole.message.content);
  assert.equal(parts.at(-1).done_reason, whole.done_reason);
  assert.equal(parts.at(-1).prompt_eval_count, whole.prompt_eval_count);

  const other = await client.chat({ ...req, options: { ...req.options, seed: 99 } });
  assert.notEqual(other.message.content, whole.message.content, 'a different seed should change a 40-token sample');
});

test('chat with tools, think and keep_alive on a Qwen3 template is accepted', async () => {
  const r = await client.chat({
    model: qwen, think: false, keep_alive: '10m',
    messages: [{ role: 'user', content: 'weather in Paris?' }],
    tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
    options: { temperature: 0, num_predict: 8 },
  });
  assert.equal(r.done, true);
  assert.equal(r.message.role, 'assistant');
  assert.ok(r.prompt_eval_count > 20, 'the tool list is in the prompt');
});

test('the load call: no prompt or no messages loads the model', async () => {
  const g = await client.generate({ model, prompt: '' });
  assert.equal(g.done, true);
  assert.equal(g.done_reason, 'load');
  assert.equal(g.response, '');
  const c = await client.chat({ model, messages: [] });
  assert.equal(c.done_reason, 'load');
});

test('an unknown model: the client throws the server\'s message', async () => {
  for (const call of [() => client.chat({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
    () => client.generate({ model: 'nope', prompt: 'x', stream: true }),
    () => client.generate({ model: 'nope:latest', prompt: '' })]) {
    await assert.rejects(call(), (e) => {
      assert.equal(e.name, 'ResponseError');
      assert.equal(e.status_code, 404);
      assert.match(e.message, /nope/);
      return true;
    });
  }
});

test('embed: a generative model pools by mean (no pooling metadata); bad input in Ollama\'s shape', async () => {
  const r = await client.embed({ model, input: ['hello', 'world'] });
  assert.equal(r.embeddings.length, 2);
  for (const e of r.embeddings) {
    assert.ok(e.length > 0);
    assert.ok(Math.abs(Math.sqrt(e.reduce((s, x) => s + x * x, 0)) - 1) < 1e-5, 'unit length');
  }
  await assert.rejects(client.embed({ model, input: 5 }), (e) => {
    assert.equal(e.status_code, 400);
    assert.match(e.message, /input/);
    return true;
  });
});

test('bad bodies: 400 with {"error": ...}, never a crash', async () => {
  const cases = [
    ['/api/chat', '{not json'],
    ['/api/chat', '[]'],
    ['/api/chat', JSON.stringify({ messages: [{ role: 'user', content: 'x' }] })],
    ['/api/chat', JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }], options: { temperature: 'hot' } })],
    ['/api/chat', JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }], keep_alive: 'soon' })],
    ['/api/chat', JSON.stringify({ model, messages: [{ role: 'user', content: 'x', images: ['iVBORw0KGgo='] }] })],
    ['/api/generate', JSON.stringify({ model, prompt: 'x', options: { num_predict: 'many' } })],
    ['/api/generate', '{"model": "stories", "prompt": ' + '['.repeat(200000) + ']}'],
    ['/api/show', '{}'],
  ];
  for (const [path, body] of cases) {
    const r = await post(path, body);
    assert.equal(r.status, 400, `${path} ${body.slice(0, 80)}: ${r.body}`);
    assert.match(r.type, /^application\/json/);
    const j = JSON.parse(r.body);
    assert.equal(typeof j.error, 'string');
    assert.ok(j.error.length > 0);
  }
  // The server still answers.
  assert.equal((await client.generate({ model, prompt: 'Once upon a time', raw: true, options: { temperature: 0, num_predict: 3 } })).done, true);
});

test('the HTTP server\'s own errors on /api/ are Ollama-shaped too', async () => {
  const big = await post('/api/chat', JSON.stringify({ model, messages: [{ role: 'user', content: 'x'.repeat(9 * 1024 * 1024) }] }));
  assert.equal(big.status, 413);
  assert.equal(typeof JSON.parse(big.body).error, 'string');
  const push = await post('/api/push', JSON.stringify({ model }));
  assert.equal(push.status, 404);
  assert.equal(typeof JSON.parse(push.body).error, 'string');
  // A pull by name (llmux pulls URLs only): the client sees the message, not "[object Object]".
  await assert.rejects(client.pull({ model: 'llama3.2' }), (e) => {
    assert.equal(e.status_code, 400);
    assert.match(e.message, /URL/);
    assert.doesNotMatch(e.message, /object Object/);
    return true;
  });
});

// With authentication on: the API key as a Bearer token, like the OpenAI routes.
test('keys: none or a wrong one is 401 in Ollama\'s shape, the admin key works, permissions and rate limits apply', async () => {
  const authed = await startServer([`${model}=${storiesFile}`], [], { auth: true });
  try {
    const anonymous = new Ollama({ host: authed.baseURL });
    const wrong = new Ollama({ host: authed.baseURL, headers: { Authorization: 'Bearer llmux_aaaaaaaaaaaa_' + 'A'.repeat(43) } });
    for (const c of [anonymous, wrong]) {
      for (const call of [() => c.list(), () => c.chat({ model, messages: [{ role: 'user', content: 'x' }] }),
        () => c.generate({ model, prompt: 'x', stream: true })]) {
        await assert.rejects(call(), (e) => {
          assert.equal(e.status_code, 401);
          assert.doesNotMatch(e.message, /object Object/);
          assert.ok(e.message.length > 0);
          return true;
        });
      }
    }
    const admin = new Ollama({ host: authed.baseURL, headers: { Authorization: `Bearer ${authed.adminKey}` } });
    const { models } = await admin.list();
    assert.deepEqual(models.map((m) => m.name), [`${model}:latest`]);
    const r = await admin.generate({ model, prompt: 'Once upon a time', raw: true, options: { temperature: 0, num_predict: 64 } });
    assert.equal(r.response, expected);

    const makeKey = async (body) => {
      const r = await fetch(`${authed.baseURL}/admin/v1/keys`, { method: 'POST', body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${authed.adminKey}` } });
      assert.equal(r.status, 201);
      return (await r.json()).key;
    };
    const asKey = (key) => new Ollama({ host: authed.baseURL, headers: { Authorization: `Bearer ${key}` } });

    // A key for other models: it sees none of them, may not use this one, learns nothing of it.
    const other = asKey(await makeKey({ scopes: ['models:use:other-*'] }));
    assert.deepEqual((await other.list()).models, []);
    assert.deepEqual((await other.ps()).models, []);
    await assert.rejects(other.chat({ model, messages: [{ role: 'user', content: 'x' }] }), (e) => e.status_code === 403);
    await assert.rejects(other.generate({ model, prompt: 'x' }), (e) => e.status_code === 403);
    await assert.rejects(other.show({ model }), (e) => e.status_code === 404);

    // The key's rate limit counts Ollama calls like OpenAI ones: 429 with Retry-After.
    const limitedKey = await makeKey({ scopes: ['models:use:*'], limits: { requests_per_minute: 2 } });
    const limited = asKey(limitedKey);
    const small = { model, prompt: 'Once upon a time', raw: true, options: { num_predict: 2 } };
    await limited.generate(small);
    await limited.chat({ model, messages: [{ role: 'user', content: 'x' }], options: { num_predict: 2 } });
    await assert.rejects(limited.generate(small), (e) => {
      assert.equal(e.status_code, 429);
      assert.doesNotMatch(e.message, /object Object/);
      return true;
    });
    const r429 = await fetch(`${authed.baseURL}/api/chat`, { method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${limitedKey}` },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] }) });
    assert.equal(r429.status, 429);
    assert.ok(Number(r429.headers.get('retry-after')) >= 1);
    assert.equal(typeof (await r429.json()).error, 'string');
  } finally {
    await authed.stop();
  }
});
