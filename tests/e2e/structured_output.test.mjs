// Structured output: response_format json_schema (openai client) and Ollama's `format` schema
// (ollama client) on the tiny random-weight Qwen3. Random weights want arbitrary tokens, so
// whatever comes out was put there by the constraint: every answer must parse with JSON.parse
// and validate with ajv (the reference validator, draft 2020-12, with ajv-formats) against the
// schema it was asked for. max_tokens bounds every answer; the constraint steers to a whole
// value within it, so every answer must finish with "stop".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const base = process.env.LLMUX_BASE_URL;
const qwen = process.env.LLMUX_QWEN_MODEL;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
const ollama = new Ollama({ host: base });
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

const schemas = {
  person: {
    type: 'object',
    properties: { name: { type: 'string' }, age: { type: 'integer' } },
    required: ['name', 'age'], additionalProperties: false,
  },
  optionalFields: {
    type: 'object',
    properties: {
      id: { type: 'integer' }, nickname: { type: 'string' }, active: { type: 'boolean' },
      deleted: { type: 'null' },
    },
    required: ['id'],
  },
  colorEnum: { type: 'string', enum: ['red', 'green', 'blue', 'dark red', 'dark green'] },
  boundedArray: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 5 },
  nested: {
    type: 'object',
    properties: {
      user: {
        type: 'object',
        properties: { first: { type: 'string', maxLength: 12 }, last: { type: 'string' } },
        required: ['first', 'last'],
      },
      tags: { type: 'array', items: { type: 'string', maxLength: 8 }, maxItems: 3 },
    },
    required: ['user', 'tags'],
  },
  anyOfScalar: { anyOf: [{ type: 'string', maxLength: 10 }, { type: 'integer', minimum: -5, maximum: 5 }] },
  integerRange: {
    type: 'object',
    properties: { score: { type: 'integer', minimum: -40, maximum: 1234 }, pct: { type: 'integer', exclusiveMinimum: 0, exclusiveMaximum: 100 } },
    required: ['score', 'pct'],
  },
  numberRange: {
    type: 'object',
    properties: { ratio: { type: 'number', minimum: 0, maximum: 1 }, temp: { type: 'number', minimum: -273.15, maximum: 1000.5 } },
    required: ['ratio', 'temp'],
  },
  stringLengths: { type: 'array', items: { type: 'string', minLength: 3, maxLength: 6 }, minItems: 1, maxItems: 3 },
  date: { type: 'object', properties: { born: { type: 'string', format: 'date' } }, required: ['born'] },
  dateTime: { type: 'object', properties: { at: { type: 'string', format: 'date-time' }, t: { type: 'string', format: 'time' } }, required: ['at', 't'] },
  uuid: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] },
  email: { type: 'object', properties: { to: { type: 'string', format: 'email' } }, required: ['to'] },
  recursiveTree: {
    $ref: '#/$defs/node',
    $defs: {
      node: {
        type: 'object',
        properties: { value: { type: 'integer' }, children: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } },
        required: ['value'],
      },
    },
  },
  constAndNullable: {
    type: 'object',
    properties: { kind: { const: 'point' }, label: { type: ['string', 'null'] }, x: { type: 'number' } },
    required: ['kind', 'label', 'x'],
  },
  arrayOfObjects: {
    type: 'array',
    items: { type: 'object', properties: { k: { type: 'string', maxLength: 5 }, v: { type: 'boolean' } }, required: ['k', 'v'] },
    maxItems: 3,
  },
  tuple: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }, { type: 'boolean' }], items: false, minItems: 3 },
  oneOfTagged: {
    oneOf: [
      { type: 'object', properties: { type: { const: 'circle' }, r: { type: 'number', minimum: 0 } }, required: ['type', 'r'] },
      { type: 'object', properties: { type: { const: 'rect' }, w: { type: 'integer' }, h: { type: 'integer' } }, required: ['type', 'w', 'h'] },
    ],
  },
  anything: {},
  // Objects that declare no property: any members, or members whose values follow a schema.
  anyObject: { type: 'object' },
  integerMap: { type: 'object', additionalProperties: { type: 'integer', minimum: 0, maximum: 99 } },
  mapOfRecords: {
    type: 'object',
    additionalProperties: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
  },
  // pattern (ECMA-262 subset) and the ipv4 format.
  patternCodes: {
    type: 'object',
    properties: {
      sku: { type: 'string', pattern: '^[A-Z]{3}-\\d{4,6}$' },
      slug: { type: 'string', pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' },
      phone: { type: 'string', pattern: '^\\+?[0-9]{1,3}[ -]?\\(?[0-9]{3}\\)?[ -]?[0-9]{3}-[0-9]{4}$' },
    },
    required: ['sku', 'slug', 'phone'],
  },
  patternAlternatives: { type: 'string', pattern: '^(red|green|blue)-(\\d{2}|x{1,3})$|^none$' },
  patternUnanchored: { type: 'string', pattern: 'id:\\w{3}' },
  patternEscapes: { type: 'array', items: { type: 'string', pattern: '^[^a-z]{1,8}$' }, minItems: 1, maxItems: 3 },
  patternQuotes: { type: 'string', pattern: '^"[\\s\\S]{0,6}"\\\\.$' },
  ipv4: { type: 'object', properties: { host: { type: 'string', format: 'ipv4' } }, required: ['host'] },
  definitionsRef: {
    type: 'object',
    properties: { home: { $ref: '#/definitions/addr' }, work: { $ref: '#/definitions/addr' } },
    required: ['home'],
    definitions: { addr: { type: 'object', properties: { city: { type: 'string', maxLength: 20 }, zip: { type: 'string', minLength: 5, maxLength: 5 } }, required: ['city', 'zip'] } },
  },
};

const seeds = [1, 2, 3];

function checkOutput(name, schema, content, finish, seed) {
  assert.equal(finish, 'stop', `${name} seed ${seed}: finish ${finish}: ${content}`);
  let value;
  assert.doesNotThrow(() => { value = JSON.parse(content); }, `${name} seed ${seed}: ${content}`);
  const validate = ajv.compile(schema);
  assert.ok(validate(value), `${name} seed ${seed}: ${content}\n${JSON.stringify(validate.errors)}`);
  return value;
}

for (const [name, schema] of Object.entries(schemas)) {
  test(`json_schema ${name}: every seed's answer validates`, async () => {
    const results = await Promise.all(seeds.map((seed) => client.chat.completions.create({
      model: qwen, messages: [{ role: 'user', content: `Answer with JSON for ${name}.` }],
      response_format: { type: 'json_schema', json_schema: { name, schema, strict: false } },
      max_tokens: 160, temperature: 1.0, seed,
    })));
    results.forEach((r, i) => {
      const c = r.choices[0];
      checkOutput(name, schema, c.message.content, c.finish_reason, seeds[i]);
    });
  });
}

test('json_schema with strict true on a supported schema, streamed', async () => {
  const schema = schemas.nested;
  const stream = await client.chat.completions.create({
    model: qwen, messages: [{ role: 'user', content: 'A user.' }],
    response_format: { type: 'json_schema', json_schema: { name: 'nested', schema, strict: true } },
    max_tokens: 120, temperature: 1.0, seed: 9, stream: true,
  });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    const ch = chunk.choices[0];
    if (ch?.delta?.content) text += ch.delta.content;
    if (ch?.finish_reason) finish = ch.finish_reason;
  }
  checkOutput('nested (stream)', schema, text, finish, 9);
});

test('a tight max_tokens still ends with a whole value', async () => {
  // Ten tokens of budget for an object that needs at least ~20 bytes: the constraint steers to
  // the shortest completion; where even that cannot fit, the answer is cut ("length").
  for (const max_tokens of [30, 40]) {
    const r = await client.chat.completions.create({
      model: qwen, messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'p', schema: schemas.person } },
      max_tokens, temperature: 1.0, seed: 5,
    });
    const c = r.choices[0];
    checkOutput('person (tight)', schemas.person, c.message.content, c.finish_reason, 5);
    assert.ok(r.usage.completion_tokens <= max_tokens);
  }
});

test('ollama format with a JSON schema (ollama client): answers validate', async () => {
  for (const name of ['person', 'boundedArray', 'recursiveTree', 'uuid']) {
    const schema = schemas[name];
    for (const seed of [1, 2]) {
      const r = await ollama.chat({
        model: qwen, messages: [{ role: 'user', content: `JSON for ${name}` }], format: schema,
        options: { num_predict: 160, seed, temperature: 1.0 }, think: false,
      });
      checkOutput(`ollama ${name}`, schema, r.message.content, r.done_reason, seed);
    }
  }
  const g = await ollama.generate({
    model: qwen, prompt: 'JSON please', format: schemas.colorEnum, options: { num_predict: 40, seed: 4 },
  });
  checkOutput('ollama generate colorEnum', schemas.colorEnum, g.response, g.done_reason, 4);
});

async function badRequest(body) {
  try {
    await client.chat.completions.create({
      model: qwen, messages: [{ role: 'user', content: 'x' }], max_tokens: 5, ...body,
    });
  } catch (e) {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.status, 400);
    return e;
  }
  assert.fail('expected a 400');
}

test('400 for a malformed schema, an unsupported keyword with strict, and unsupported patterns', async () => {
  const rf = (schema, strict) => ({ response_format: { type: 'json_schema', json_schema: { name: 'n', schema, strict } } });
  let e = await badRequest(rf({ type: 'object', properties: { a: { type: 'integer', multipleOf: 3 } } }, true));
  assert.match(e.message, /unsupported keyword 'multipleOf' at \/properties\/a/);
  assert.equal(e.param, 'response_format.json_schema.schema');
  e = await badRequest(rf({ type: 'strin' }, false));
  assert.match(e.message, /unknown type 'strin'/);
  e = await badRequest(rf({ type: 'string', pattern: '^(a)\\1$' }, false));
  assert.match(e.message, /backreferences are not supported/);
  e = await badRequest(rf({ type: 'object', properties: { p: { type: 'string', pattern: 'a(?=b)' } } }, false));
  assert.match(e.message, /lookahead is not supported.*at \/properties\/p/);
  e = await badRequest(rf({ type: 'object', properties: {}, required: ['missing'] }, false));
  assert.match(e.message, /'missing'/);
  e = await badRequest(rf({ $ref: '#/$defs/a', $defs: { a: { type: 'object', properties: { x: { $ref: '#/$defs/a' } }, required: ['x'] } } }, false));
  assert.match(e.message, /can never finish/);
  e = await badRequest({ response_format: { type: 'json_schema' } });
  assert.equal(e.param, 'response_format.json_schema');
  // Without strict, an unsupported keyword is ignored.
  const r = await client.chat.completions.create({
    model: qwen, messages: [{ role: 'user', content: 'x' }], max_tokens: 40, seed: 1,
    ...rf({ type: 'integer', minimum: 0, maximum: 99, multipleOf: 1 }, false),
  });
  checkOutput('ignored multipleOf', { type: 'integer', minimum: 0, maximum: 99 }, r.choices[0].message.content, r.choices[0].finish_reason, 1);
  // Ollama: the same error in Ollama's shape.
  await assert.rejects(ollama.chat({ model: qwen, messages: [{ role: 'user', content: 'x' }], format: { type: 'strin' } }),
    (err) => { assert.equal(err.status_code, 400); assert.match(err.message, /unknown type 'strin'/); return true; });
});

test('hostile patterns get a clear 400 at once, not a hang', async () => {
  const rf = (pattern) => ({ response_format: { type: 'json_schema', json_schema: { name: 'h', schema: { type: 'string', pattern } } } });
  let many = '';
  for (let i = 0; i < 30; i++) many += '(x{999}){999}';
  let long = '';
  while (long.length < 10000) long += '[a-z]{2,5}';
  const hostile = [
    ['^a{1000000}$', /repetition count above/],
    ['^a{0,99999999999999999999}$', /repetition count above/],
    [many, /too large/],
    ['('.repeat(1000) + 'a' + ')'.repeat(1000), /nested deeper/],
    ['('.repeat(6000) + 'a' + ')'.repeat(6000), /longer than/],
    [long, /longer than/],
  ];
  for (const [pattern, re] of hostile) {
    const t0 = Date.now();
    const e = await badRequest(rf(pattern));
    assert.match(e.message, re, pattern.slice(0, 40));
    assert.ok(Date.now() - t0 < 5000, `${pattern.slice(0, 40)}: ${Date.now() - t0} ms`);
  }
  // The server still answers after them.
  const r = await client.chat.completions.create({
    model: qwen, messages: [{ role: 'user', content: 'x' }], max_tokens: 40, seed: 2,
    ...rf('^[0-9]{2}$'),
  });
  checkOutput('after hostile', { type: 'string', pattern: '^[0-9]{2}$' }, r.choices[0].message.content, r.choices[0].finish_reason, 2);
});

test('grammar (GBNF, llama.cpp\'s field): answers match the same language as a JS regex', async () => {
  const cases = [
    { gbnf: 'root ::= ("yes" | "no") " " [0-9]{2,4} "!"', re: /^(yes|no) [0-9]{2,4}!$/ },
    { gbnf: 'root ::= item ("," item){0,3}\nitem ::= [a-z]+ # a word\n', re: /^[a-z]+(,[a-z]+){0,3}$/ },
    { gbnf: 'root ::= "<" [^<>]{1,20} ">"', re: /^<[^<>]{1,20}>$/u },
  ];
  for (const { gbnf, re } of cases) {
    for (const seed of [1, 2]) {
      const r = await client.chat.completions.create({
        model: qwen, messages: [{ role: 'user', content: 'x' }], max_tokens: 60, temperature: 1.0, seed,
        grammar: gbnf,
      });
      const c = r.choices[0];
      assert.equal(c.finish_reason, 'stop', `${gbnf} seed ${seed}: ${c.message.content}`);
      assert.match(c.message.content, re, `${gbnf} seed ${seed}`);
    }
  }
  const e = await badRequest({ grammar: 'root ::= expr\nexpr ::= expr "+" "1" | "1"' });
  assert.match(e.message, /left-recursive/);
  assert.equal(e.param, 'grammar');
});
