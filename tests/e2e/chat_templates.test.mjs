// Real non-Qwen3 tokenizers and chat templates through HTTP: for each template of
// chat_references.mjs (Llama 3, Llama 3.1/3.2, Qwen2.5, DeepSeek-V3 with native templates;
// Gemma 3 and Llama 2, which the server renders with its Jinja interpreter, on their own
// SentencePiece-style vocabularies), the npm tokenizer is imported with `llmux model import-tokenizer` with the
// template as its chat template, a tiny random-weight model is made with it and served, and
// every conversation goes to /v1/chat/completions with the openai client.
// usage.prompt_tokens must equal the number of tokens transformers.js (@lenml/tokenizers) gives
// for the @huggingface/jinja rendering of the same conversation; a conversation the template
// refuses must get a 400. A plain completion must count the special tokens transformers.js adds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { TokenizerLoader } from '@lenml/tokenizers';
import { BIN, startServer } from './server.mjs';
import { TEMPLATES, conversations, loadTemplate, renderReference } from './chat_references.mjs';

const ARCH_FOR_MODEL = { llama: 'llama', qwen2: 'qwen2', deepseek2: 'llama' };

let work;
let server;
let client;
const models = new Map();  // template name -> { template, tokenizer, vocab }

// A vocabulary-only GGUF from the npm tokenizer files, with this template as its chat template.
function importTokenizer(t) {
  const dir = join(work, t.name);
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
  return { vocab, model };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'llmux-e2e-chat-templates-'));
  const specs = [];
  for (const spec of TEMPLATES) {
    const t = await loadTemplate(spec);
    const files = importTokenizer(t);
    const tokenizer = TokenizerLoader.fromPreTrained({
      tokenizerJSON: JSON.parse(readFileSync(t.tokenizerJsonPath, 'utf8')),
      tokenizerConfig: t.config,
    });
    models.set(t.name, { template: t, tokenizer, ...files });
    specs.push(`${t.name}=${files.model}`);
  }
  server = await startServer(specs);
  client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  if (server) assert.equal(await server.stop(), 0, 'llmux serve must exit cleanly');
  if (work) rmSync(work, { recursive: true, force: true });
});

// The ids llmux gives the same text (for the failure message only).
function llmuxIds(vocab, text) {
  return execFileSync(BIN, ['tokenize', '-m', vocab, '--no-bos', text], { encoding: 'utf8' }).trim();
}

for (const spec of TEMPLATES) {
  test(`${spec.name}: prompt_tokens equal transformers.js on the Jinja rendering`, async () => {
    const { template, tokenizer, vocab } = models.get(spec.name);
    let checked = 0;
    for (const c of conversations()) {
      // The server always asks for the generation prompt.
      const kwargs = { ...c.kwargs, add_generation_prompt: true };
      const reference = renderReference(template, { ...c, kwargs });
      const body = { model: spec.name, messages: c.messages, max_tokens: 1 };
      if (c.tools) body.tools = c.tools;
      if (kwargs.enable_thinking !== undefined) {
        body.chat_template_kwargs = { enable_thinking: kwargs.enable_thinking };
      }
      if (reference.error) {
        await assert.rejects(client.chat.completions.create(body), (e) => {
          assert.equal(e.status, 400, `${c.name}: ${e.message}`);
          // The template's own raise_exception text reaches the client.
          if (reference.raised) assert.ok(e.message.includes(reference.raised), `${c.name}: ${e.message}`);
          return true;
        }, `${c.name}: the template refuses it (${reference.error})`);
        continue;
      }
      const expected = tokenizer.encode(reference.rendered, { add_special_tokens: false });
      if (expected.length === 0) {
        // The template renders nothing (Llama 2 drops a system message without a user turn):
        // there is nothing to generate from, which the engine answers with a 400.
        await assert.rejects(client.chat.completions.create(body), (e) => {
          assert.equal(e.status, 400, `${c.name}: ${e.message}`);
          assert.match(e.message, /the prompt is empty/);
          return true;
        }, `${c.name}: the rendering is empty`);
        ++checked;
        continue;
      }
      const r = await client.chat.completions.create(body);
      if (r.usage.prompt_tokens !== expected.length) {
        assert.fail(`${c.name}: prompt_tokens ${r.usage.prompt_tokens}, transformers.js ${expected.length}\n` +
          `rendering: ${JSON.stringify(reference.rendered)}\n` +
          `transformers.js: ${JSON.stringify(expected)}\nllmux: ${llmuxIds(vocab, reference.rendered)}`);
      }
      ++checked;
    }
    assert.ok(checked >= (spec.minRendered ?? 17), `only ${checked} conversations rendered`);
  });
}

// A completion prompt gets the special tokens the tokenizer adds (BOS for Llama 3.1 and
// DeepSeek-V3, none for Qwen2.5), which import-tokenizer must carry over.
test('completions: prompt_tokens equal transformers.js with its special tokens', async () => {
  const prompt = 'Hello world 12345, 你好!';
  for (const spec of TEMPLATES) {
    const { template, tokenizer } = models.get(spec.name);
    let expected = tokenizer.encode(prompt);
    // DeepSeek-V3's tokenizer_config says add_bos_token: true (LlamaTokenizerFast). Python
    // transformers and llama.cpp then add BOS; transformers.js follows only the post-processor,
    // which has none, so its BOS is added here.
    const bos = tokenizer.encode(template.bos_token, { add_special_tokens: false });
    if (template.config.add_bos_token === true && expected[0] !== bos[0]) expected = [...bos, ...expected];
    const r = await client.completions.create({ model: spec.name, prompt, max_tokens: 1 });
    assert.equal(r.usage.prompt_tokens, expected.length,
      `${spec.name}: prompt_tokens ${r.usage.prompt_tokens}, transformers.js ${JSON.stringify(expected)}`);
  }
});
