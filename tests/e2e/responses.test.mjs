// OpenAI's Responses API (POST /v1/responses) through the official `openai` client's
// responses.create: whole and streamed replies, previous_response_id, function tools with the
// tiny random-weight Qwen3, text.format json_schema (checked with ajv) and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Ajv2020 from 'ajv/dist/2020.js';

const base = process.env.LLMUX_BASE_URL;
const model = process.env.LLMUX_MODEL;
const qwen = process.env.LLMUX_QWEN_MODEL;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });

test('whole and streamed responses carry the same greedy text', async () => {
  const req = { model, input: 'Once upon a time', max_output_tokens: 24, temperature: 0 };
  const whole = await client.responses.create(req);
  assert.equal(whole.object, 'response');
  assert.match(whole.id, /^resp_/);
  assert.equal(whole.model, model);
  assert.ok(whole.output_text.length > 0);
  assert.equal(whole.status, 'incomplete');
  assert.equal(whole.incomplete_details.reason, 'max_output_tokens');
  assert.equal(whole.usage.output_tokens, 24);
  assert.equal(whole.usage.total_tokens, whole.usage.input_tokens + whole.usage.output_tokens);
  const message = whole.output.find((o) => o.type === 'message');
  assert.equal(message.role, 'assistant');
  assert.match(message.id, /^msg_/);
  assert.equal(message.content[0].type, 'output_text');

  const stream = await client.responses.create({ ...req, stream: true });
  const types = [];
  let deltas = '';
  let last = null;
  let sequence = -1;
  for await (const event of stream) {
    types.push(event.type);
    assert.equal(event.sequence_number, sequence + 1);
    sequence = event.sequence_number;
    if (event.type === 'response.output_text.delta') deltas += event.delta;
    if (event.type === 'response.output_text.done') assert.equal(event.text, whole.output_text);
    last = event;
  }
  assert.equal(deltas, whole.output_text);
  assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress',
    'response.output_item.added', 'response.content_part.added']);
  for (const t of ['response.output_text.done', 'response.content_part.done', 'response.output_item.done']) {
    assert.ok(types.includes(t), t);
  }
  assert.equal(last.type, 'response.incomplete');
  assert.equal(last.response.output_text ?? last.response.output.find((o) => o.type === 'message').content[0].text,
    whole.output_text);
  assert.deepEqual(last.response.usage, whole.usage);
});

test('previous_response_id continues the stored conversation', async () => {
  const first = await client.responses.create({
    model, input: 'Once upon a time', instructions: 'Tell a story.', max_output_tokens: 8, temperature: 0,
  });
  assert.equal(first.instructions, 'Tell a story.');
  // Instructions are not carried over (as OpenAI's): the second request gives them again.
  const next = { instructions: 'Tell a story.', max_output_tokens: 8, temperature: 0 };
  const second = await client.responses.create({
    model, input: 'And then?', previous_response_id: first.id, ...next,
  });
  assert.equal(second.previous_response_id, first.id);
  assert.ok(second.usage.input_tokens > first.usage.input_tokens);
  // The same conversation sent whole, with no stored state, is the same prompt and answer.
  const whole = await client.responses.create({
    model, store: false, ...next,
    input: [{ role: 'user', content: 'Once upon a time' },
      { role: 'assistant', content: [{ type: 'output_text', text: first.output_text }] },
      { role: 'user', content: 'And then?' }],
  });
  assert.equal(second.usage.input_tokens, whole.usage.input_tokens);
  assert.equal(second.output_text, whole.output_text);

  await assert.rejects(
    client.responses.create({ model, input: 'x', previous_response_id: 'resp_doesnotexist' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'previous_response_id');
  // A response that was not stored cannot be continued.
  const unstored = await client.responses.create({ model, input: 'x', store: false, max_output_tokens: 2 });
  assert.equal(unstored.store, false);
  await assert.rejects(
    client.responses.create({ model, input: 'y', previous_response_id: unstored.id }),
    OpenAI.BadRequestError);
});

const weatherTool = {
  type: 'function', name: 'get_weather', description: 'Get the current weather in a city', strict: false,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

// Random weights rarely close the arguments' JSON strings: look for a seed (llmux's extension
// to the Responses API) whose forced call completes.
async function firstCompleteCall(request) {
  for (let seed = 1; seed <= 30; ++seed) {
    const r = await client.responses.create({ ...request, seed });
    if (r.status === 'completed') return { seed, response: r };
    assert.equal(r.incomplete_details.reason, 'max_output_tokens');
  }
  assert.fail('no seed completed a tool call');
}

test('function tools: a forced call, streamed the same, and its output sent back', async () => {
  const request = {
    model: qwen, input: 'What is the weather in Paris?', tools: [weatherTool], tool_choice: 'required',
    max_output_tokens: 120, temperature: 0.7, reasoning: { effort: 'minimal' },
  };
  const { seed, response: first } = await firstCompleteCall(request);
  const call = first.output.find((o) => o.type === 'function_call');
  assert.ok(call, JSON.stringify(first.output));
  assert.equal(call.name, 'get_weather');
  assert.match(call.call_id, /^call_/);
  assert.match(call.id, /^fc_/);
  const args = JSON.parse(call.arguments);
  assert.ok(typeof args === 'object' && !Array.isArray(args));

  const stream = await client.responses.create({ ...request, seed, stream: true });
  let streamedArgs = '';
  let done = null;
  for await (const event of stream) {
    if (event.type === 'response.function_call_arguments.delta') streamedArgs += event.delta;
    if (event.type === 'response.function_call_arguments.done') done = event;
  }
  assert.equal(streamedArgs, call.arguments);
  assert.equal(done.arguments, call.arguments);

  // The tool's output goes back as a function_call_output item, continuing the stored response.
  const answer = await client.responses.create({
    model: qwen, previous_response_id: first.id, tools: [weatherTool], max_output_tokens: 16,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temperature_c": 21}' }],
    reasoning: { effort: 'minimal' }, temperature: 0,
  });
  assert.ok(answer.usage.input_tokens > first.usage.input_tokens);
  // The same turn sent whole (no stored state) sees the same prompt.
  const whole = await client.responses.create({
    model: qwen, tools: [weatherTool], max_output_tokens: 16, store: false,
    input: [{ role: 'user', content: 'What is the weather in Paris?' },
      { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
      { type: 'function_call_output', call_id: call.call_id, output: '{"temperature_c": 21}' }],
    reasoning: { effort: 'minimal' }, temperature: 0,
  });
  assert.equal(whole.usage.input_tokens, answer.usage.input_tokens);
  assert.equal(whole.output_text, answer.output_text);
});

test('text.format json_schema answers validate with ajv', async () => {
  const schema = {
    type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } },
    required: ['name', 'age'], additionalProperties: false,
  };
  const validate = new Ajv2020({ strict: false }).compile(schema);
  for (const seed of [1, 2, 3]) {
    const r = await client.responses.create({
      model: qwen, input: 'Answer with JSON for a person.', max_output_tokens: 160, temperature: 1.0, seed,
      text: { format: { type: 'json_schema', name: 'person', schema, strict: false } },
    });
    assert.equal(r.status, 'completed', `seed ${seed}: ${r.output_text}`);
    assert.equal(r.text.format.type, 'json_schema');
    const value = JSON.parse(r.output_text);
    assert.ok(validate(value), `seed ${seed}: ${r.output_text} ${JSON.stringify(validate.errors)}`);
  }
});

test('bad requests are BadRequestErrors naming the parameter', async () => {
  const cases = [
    [{ model, input: 'x', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
    [{ model, input: 5 }, 'input'],
    [{ model, input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }] }, 'input[0].content[0].type'],
    [{ model, input: 'x', text: { format: { type: 'json_schema', name: 'n' } } }, 'text.format.schema'],
    [{ model, input: 'x', max_output_tokens: 'ten' }, 'max_output_tokens'],
  ];
  for (const [body, param] of cases) {
    await assert.rejects(client.responses.create(body), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${param}: ${e}`);
      assert.equal(e.param, param);
      return true;
    });
  }
  await assert.rejects(client.responses.create({ model: 'no-such-model', input: 'x' }), OpenAI.NotFoundError);
});
