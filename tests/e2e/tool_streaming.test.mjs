// Tool calls streamed the way OpenAI and Anthropic stream them, checked with their own SDKs:
// a call opens with id and name, its arguments follow in fragments that join to JSON valid
// against the function's schema (ajv); parallel_tool_calls false allows one call; forced calls
// (tool_choice required / named) on the Qwen3, Llama 3.1 and DeepSeek-V3 templates; the
// Anthropic SDK's input_json_delta stream and stop_sequence. The models have random weights:
// calls happen because tool_choice forces them, and every schema here is bounded (enums,
// integer ranges, booleans) so that a forced call always completes within max_tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import Ajv from 'ajv';
import { TEMPLATES, loadTemplate } from './chat_references.mjs';
import { BIN, startServer } from './server.mjs';

const base = process.env.LLMUX_BASE_URL;
const qwen = process.env.LLMUX_QWEN_MODEL;
const stories = process.env.LLMUX_MODEL;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: base, apiKey: 'unused', maxRetries: 0 });
const ajv = new Ajv({ strict: false, allErrors: true });

const tripSchema = {
  type: 'object',
  properties: {
    city: { enum: ['Paris', 'Tokyo', 'Lima'] },
    days: { type: 'integer', minimum: 1, maximum: 9 },
    by_train: { type: 'boolean' },
  },
  required: ['city', 'days', 'by_train'],
  additionalProperties: false,
};
const clockSchema = {
  type: 'object', properties: { tz: { enum: ['UTC', 'CET', 'JST'] } }, required: ['tz'], additionalProperties: false,
};
const tripTool = { type: 'function', function: { name: 'plan_trip', description: 'Plan a trip.', parameters: tripSchema } };
const clockTool = { type: 'function', function: { name: 'get_time', description: 'The time.', parameters: clockSchema } };
const validators = { plan_trip: ajv.compile(tripSchema), get_time: ajv.compile(clockSchema) };

function assertValidCall(call) {
  const validate = validators[call.name];
  assert.ok(validate, `unknown function ${call.name}`);
  const args = JSON.parse(call.arguments);
  assert.ok(validate(args), `${call.arguments}: ${ajv.errorsText(validate.errors)}`);
}

// Streams a chat completion and reassembles the calls from the chunks as a client does,
// checking on the way that a call opens with index, id, type, name and "" arguments.
async function streamChat(request) {
  const stream = await client.chat.completions.create({ ...request, stream: true });
  const calls = [];
  let content = '';
  let finish = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    content += c.delta.content ?? '';
    for (const tc of c.delta.tool_calls ?? []) {
      if (tc.id) {
        assert.equal(tc.index, calls.length, 'a new call takes the next index');
        assert.equal(tc.type, 'function');
        assert.equal(tc.function.arguments, '', 'a call opens with empty arguments');
        calls.push({ id: tc.id, name: tc.function.name, arguments: '', fragments: 0 });
      } else {
        const call = calls[tc.index];
        assert.ok(call, 'arguments for a call that was opened');
        assert.equal(tc.function.name, undefined);
        call.arguments += tc.function.arguments;
        call.fragments += 1;
      }
    }
    finish = c.finish_reason ?? finish;
  }
  return { calls, content, finish };
}

test('OpenAI stream: the call opens, then its arguments arrive in fragments and validate', async () => {
  const request = {
    model: qwen, messages: [{ role: 'user', content: 'Plan a trip.' }], tools: [tripTool, clockTool],
    tool_choice: { type: 'function', function: { name: 'plan_trip' } }, max_tokens: 200, temperature: 0.8,
    seed: 5, chat_template_kwargs: { enable_thinking: false },
  };
  const streamed = await streamChat(request);
  assert.equal(streamed.finish, 'tool_calls');
  assert.ok(streamed.calls.length >= 1);
  for (const call of streamed.calls) {
    assert.equal(call.name, 'plan_trip');
    assert.match(call.id, /^call_/);
    assert.ok(call.fragments >= 2, `arguments came in ${call.fragments} fragment(s)`);
    assertValidCall(call);
  }
  // Not streamed, the same seed gives the same calls.
  const whole = await client.chat.completions.create(request);
  assert.equal(whole.choices[0].finish_reason, 'tool_calls');
  assert.deepEqual(whole.choices[0].message.tool_calls.map((c) => [c.function.name, c.function.arguments]),
    streamed.calls.map((c) => [c.name, c.arguments]));
});

test('parallel_tool_calls: false allows one call; true lets a forced reply make several', async () => {
  const request = (seed, parallel) => ({
    model: qwen, messages: [{ role: 'user', content: 'Plan trips and tell the time.' }], tools: [tripTool, clockTool],
    tool_choice: 'required', parallel_tool_calls: parallel, max_tokens: 300, temperature: 1.0, seed,
    chat_template_kwargs: { enable_thinking: false },
  });
  let several = 0;
  for (let seed = 1; seed <= 12; ++seed) {
    const one = await streamChat(request(seed, false));
    assert.equal(one.finish, 'tool_calls');
    assert.equal(one.calls.length, 1, `seed ${seed}: ${JSON.stringify(one.calls)}`);
    assertValidCall(one.calls[0]);
    const any = await client.chat.completions.create(request(seed, true));
    const calls = any.choices[0].message.tool_calls ?? [];
    for (const c of calls) assertValidCall(c.function);
    if (calls.length >= 2) ++several;
  }
  assert.ok(several >= 1, 'with parallel calls allowed, some random reply makes more than one');
});

test('tool_choice none: no call even though tools are given', async () => {
  const r = await client.chat.completions.create({
    model: qwen, messages: [{ role: 'user', content: 'Plan a trip.' }], tools: [tripTool], tool_choice: 'none',
    max_tokens: 16, temperature: 1.0, seed: 3, chat_template_kwargs: { enable_thinking: false },
  });
  assert.equal(r.choices[0].message.tool_calls, undefined);
  assert.notEqual(r.choices[0].finish_reason, 'tool_calls');
});

test('Responses API: function_call_arguments delta events join to the done arguments', async () => {
  const stream = await client.responses.create({
    model: qwen, input: 'Plan a trip.', stream: true, max_output_tokens: 200, temperature: 0.8, seed: 5,
    tools: [{ type: 'function', name: 'plan_trip', parameters: tripSchema }],
    tool_choice: { type: 'function', name: 'plan_trip' }, parallel_tool_calls: false, reasoning: { effort: 'minimal' },
  });
  let deltas = 0;
  let joined = '';
  let done = null;
  let completed = null;
  for await (const event of stream) {
    if (event.type === 'response.function_call_arguments.delta') { ++deltas; joined += event.delta; }
    if (event.type === 'response.function_call_arguments.done') done = event;
    if (event.type === 'response.completed') completed = event.response;
  }
  assert.ok(deltas >= 2, `${deltas} delta event(s)`);
  assert.equal(done.arguments, joined);
  assertValidCall({ name: 'plan_trip', arguments: joined });
  assert.equal(completed.parallel_tool_calls, false);
  assert.equal(completed.output.filter((o) => o.type === 'function_call').length, 1);
});

test('Anthropic stream: tool_use opens, input_json_delta fragments build an input that validates', async () => {
  const request = {
    model: qwen, max_tokens: 200, temperature: 0.8, thinking: { type: 'disabled' },
    tools: [{ name: 'plan_trip', description: 'Plan a trip.', input_schema: tripSchema }],
    tool_choice: { type: 'tool', name: 'plan_trip', disable_parallel_tool_use: true },
    messages: [{ role: 'user', content: 'Plan a trip.' }],
  };
  const stream = anthropic.messages.stream(request);
  let partials = 0;
  let opened = null;
  stream.on('streamEvent', (event) => {
    if (event.type === 'content_block_start' && event.content_block.type === 'tool_use') opened = event.content_block;
    if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') ++partials;
  });
  const message = await stream.finalMessage();
  assert.equal(message.stop_reason, 'tool_use');
  assert.equal(opened.name, 'plan_trip');
  assert.ok(partials >= 2, `${partials} input_json_delta event(s)`);
  const uses = message.content.filter((b) => b.type === 'tool_use');
  assert.equal(uses.length, 1);
  assert.ok(validators.plan_trip(uses[0].input), ajv.errorsText(validators.plan_trip.errors));
});

test('Anthropic stop_sequences: stop_reason stop_sequence names the sequence that matched', async () => {
  const request = {
    model: stories, max_tokens: 40, temperature: 0, top_k: 1, messages: [{ role: 'user', content: 'Once upon a time' }],
  };
  const free = await anthropic.messages.create(request);
  const text = free.content[0].text;
  assert.ok(text.length > 12, text);
  const stop = text.slice(6, 10);
  const cut = await anthropic.messages.create({ ...request, stop_sequences: ['zzqx', stop] });
  assert.equal(cut.stop_reason, 'stop_sequence');
  assert.equal(cut.stop_sequence, stop);
  assert.equal(cut.content[0].text, text.slice(0, text.indexOf(stop)));
  const streamed = await anthropic.messages.stream({ ...request, stop_sequences: [stop] }).finalMessage();
  assert.equal(streamed.stop_reason, 'stop_sequence');
  assert.equal(streamed.stop_sequence, stop);
  assert.equal(free.stop_sequence, null);
});

// Forced calls on the Llama 3.1 (bare JSON) and DeepSeek-V3 (its own tags) templates, with tiny
// random-weight models made from the real tokenizers and templates.
const ARCH_FOR_MODEL = { llama: 'llama', deepseek2: 'llama' };
let work;
let server;
let other;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'llmux-e2e-tool-streaming-'));
  const specs = [];
  for (const name of ['llama3.1', 'deepseek-v3']) {
    const t = await loadTemplate(TEMPLATES.find((s) => s.name === name));
    const dir = join(work, name);
    mkdirSync(dir);
    const configPath = join(dir, 'tokenizer_config.json');
    writeFileSync(configPath, JSON.stringify(t.config));
    const vocab = join(dir, 'vocab.gguf');
    execFileSync(BIN, ['model', 'import-tokenizer', '--tokenizer-json', t.tokenizerJsonPath,
      '--tokenizer-config', configPath, ...(t.pre ? ['--pre', t.pre] : []), '--out', vocab]);
    const model = join(dir, 'model.gguf');
    execFileSync(BIN, ['model', 'create', '--arch', ARCH_FOR_MODEL[t.arch], '--hidden', '32',
      '--layers', '1', '--heads', '2', '--kv-heads', '1', '--head-dim', '16', '--ffn', '64',
      '--type', 'q8_0', '--vocab-from', vocab, '--seed', '3', '--out', model]);
    specs.push(`${name}=${model}`);
  }
  server = await startServer(specs);
  other = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  if (server) assert.equal(await server.stop(), 0, 'llmux serve must exit cleanly');
  if (work) rmSync(work, { recursive: true, force: true });
});

for (const name of ['llama3.1', 'deepseek-v3']) {
  test(`${name}: tool_choice required and named force a call in the template's syntax`, async () => {
    for (const [choice, expected] of [['required', null], [{ type: 'function', function: { name: 'get_time' } }, 'get_time']]) {
      const request = {
        model: name, messages: [{ role: 'user', content: 'What time is it in Tokyo?' }], tools: [tripTool, clockTool],
        tool_choice: choice, max_tokens: 200, temperature: 0.8, seed: 11,
      };
      const whole = await other.chat.completions.create(request);
      const c = whole.choices[0];
      assert.equal(c.finish_reason, 'tool_calls', JSON.stringify(c.message));
      assert.ok(c.message.tool_calls.length >= 1);
      for (const call of c.message.tool_calls) {
        if (expected) assert.equal(call.function.name, expected);
        assertValidCall(call.function);
      }
      const streamed = await (async () => {
        const stream = await other.chat.completions.create({ ...request, stream: true });
        const calls = [];
        let finish = null;
        for await (const chunk of stream) {
          const ch = chunk.choices[0];
          if (!ch) continue;
          for (const tc of ch.delta.tool_calls ?? []) {
            if (tc.id) calls.push({ name: tc.function.name, arguments: '', fragments: 0 });
            else { calls[tc.index].arguments += tc.function.arguments; calls[tc.index].fragments += 1; }
          }
          finish = ch.finish_reason ?? finish;
        }
        return { calls, finish };
      })();
      assert.equal(streamed.finish, 'tool_calls');
      assert.deepEqual(streamed.calls.map((x) => [x.name, x.arguments]),
        c.message.tool_calls.map((x) => [x.function.name, x.function.arguments]));
      assert.ok(streamed.calls[0].fragments >= 2, `${streamed.calls[0].fragments} fragment(s)`);
    }
    // none: the tools are not offered and nothing is parsed as a call.
    const none = await other.chat.completions.create({
      model: name, messages: [{ role: 'user', content: 'hi' }], tools: [clockTool], tool_choice: 'none',
      max_tokens: 8, temperature: 1.0, seed: 2,
    });
    assert.equal(none.choices[0].message.tool_calls, undefined);
  });
}
