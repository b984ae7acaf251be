// Continuous batching and the prefix cache through the `openai` npm client: concurrent
// greedy requests each give the text they give alone, a repeated long system prompt is
// reported as cached with the same answer, and /metrics shows the KV cache given back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED, referenceContinuation } from './server.mjs';

const base = process.env.LLMUX_BASE_URL;
const model = process.env.LLMUX_MODEL;
const expected = referenceContinuation('Once upon a time');
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });

async function metric(name, labels) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  assert.ok(line, `${name} ${labels} missing from /metrics`);
  return Number(line.split(' ').pop());
}

test('eight concurrent greedy completions equal the single-request text', async () => {
  const prompts = ['Once upon a time', 'The cat sat', 'Lily and Ben', 'One day, a bird',
    'Once upon a time', 'Tom had a red ball.', 'The sun was hot', 'Mom said'];
  const alone = [];
  for (const prompt of prompts) {
    const r = await client.completions.create({ model, prompt, max_tokens: 48, temperature: 0 });
    alone.push(r.choices[0].text);
  }
  // 48 of llama.cpp's 64 reference tokens: a prefix of its text, and most of it (an empty or
  // short answer must not pass as a prefix).
  assert.ok(alone[0].length > expected.length / 2, alone[0]);
  assert.equal(alone[0], expected.slice(0, alone[0].length), 'first prompt gives llama.cpp\'s text');
  const together = await Promise.all(prompts.map((prompt) =>
    client.completions.create({ model, prompt, max_tokens: 48, temperature: 0 })));
  together.forEach((r, i) => assert.equal(r.choices[0].text, alone[i], `prompt ${i}`));
});

// A mixture-of-experts model (qwen3moe-mini): each expert runs over the rows of every sequence
// routed to it in a step, and each sequence must still get its own numbers. The five reference
// prompts, each alone and then all at once; the first also against llama.cpp's text (its
// precise and default runs agree on it over all 32 tokens).
test('a mixture-of-experts model batches without changing any answer', async () => {
  const moe = process.env.LLMUX_MOE_MODEL;
  const ref = JSON.parse(readFileSync(join(SHARED, 'vectors/qwen3moe-mini-q8_0.json'), 'utf8'));
  const ask = (prompt) => client.completions.create({
    model: moe, prompt, max_tokens: 32, temperature: 0, ignore_eos: true });
  const prompts = ref.prompts.map((p) => p.text);
  const alone = [];
  for (const prompt of prompts) alone.push((await ask(prompt)).choices[0].text);
  const p0 = ref.prompts[0].runs;
  assert.equal(p0.precise.generated_text, p0.default.generated_text);
  assert.equal(alone[0], p0.default.generated_text, 'llama.cpp\'s text for "Hello, world"');
  const together = await Promise.all([...prompts, ...prompts].map(ask));
  together.forEach((r, i) => assert.equal(r.choices[0].text, alone[i % prompts.length], `prompt ${i}`));
});

// DeepSeek-V3's shape (deepseek3-mini): latent attention, whose cache rows hold one compressed
// latent per position, and grouped experts with a shared expert. Each reference prompt alone,
// then all at once twice over. The server's cache is F16 (llama.cpp's default), so the
// first prompt is held to the text that llama.cpp's precise (F32) and default (F16) runs share.
test('latent attention and grouped experts batch without changing any answer', async () => {
  const ds = process.env.LLMUX_DEEPSEEK_MODEL;
  const ref = JSON.parse(readFileSync(join(SHARED, 'vectors/deepseek3-mini-q8_0.json'), 'utf8'));
  const ask = (prompt) => client.completions.create({
    model: ds, prompt, max_tokens: 32, temperature: 0, ignore_eos: true });
  const prompts = ref.prompts.map((p) => p.text);
  const alone = [];
  for (const prompt of prompts) alone.push((await ask(prompt)).choices[0].text);
  const { precise, default: dflt } = ref.prompts[1].runs;
  let shared = 0;
  while (shared < precise.generated_ids.length && precise.generated_ids[shared] === dflt.generated_ids[shared]) shared++;
  assert.ok(shared >= 16, `precise and default share ${shared} tokens`);
  const prefix = precise.generated_text.slice(0, 40);
  assert.ok(dflt.generated_text.startsWith(prefix));
  assert.ok(alone[1].startsWith(prefix), `"${alone[1]}" should start with "${prefix}"`);
  const together = await Promise.all([...prompts, ...prompts].map(ask));
  together.forEach((r, i) => assert.equal(r.choices[0].text, alone[i % prompts.length], `prompt ${i}`));
  // One F16 latent row per token and layer: 3 layers x (32 latent + 16 rope) x 2 bytes. Stored
  // as GQA, the same attention would take 3 x 4 heads x (48 key + 16 value) x 2 = 1536 bytes.
  assert.equal(await metric('llmux_kv_cache_bytes_per_token', [`model="${ds}"`]), 288);
});

test('a repeated long system prompt is served from the prefix cache', async () => {
  const system = 'You are a storyteller. '.repeat(25) + 'Tell short, happy stories about animals.';
  const ask = (q) => client.chat.completions.create({
    model, max_tokens: 24, temperature: 0,
    messages: [{ role: 'system', content: system }, { role: 'user', content: q }],
  });
  const hitsBefore = await metric('llmux_prefix_cache_hit_tokens_total', [`model="${model}"`]);
  const first = await ask('A story about a dog.');
  const second = await ask('A story about a dog.');
  const third = await ask('A story about a cat.');
  assert.ok(first.usage.prompt_tokens > 200);
  assert.ok(second.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens - 16,
    `cached ${second.usage.prompt_tokens_details.cached_tokens} of ${second.usage.prompt_tokens}`);
  assert.ok(second.usage.prompt_tokens_details.cached_tokens < second.usage.prompt_tokens);
  assert.equal(second.choices[0].message.content, first.choices[0].message.content);
  // Only the shared system prompt (whole blocks of it) is reused for another question.
  assert.ok(third.usage.prompt_tokens_details.cached_tokens > 150);
  assert.ok(third.usage.prompt_tokens_details.cached_tokens < third.usage.prompt_tokens - 2);
  const hitsAfter = await metric('llmux_prefix_cache_hit_tokens_total', [`model="${model}"`]);
  assert.ok(hitsAfter - hitsBefore >= second.usage.prompt_tokens_details.cached_tokens);
});

test('/metrics shows the KV cache given back once requests are done', async () => {
  await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8, temperature: 0 });
  // The engine updates the gauges once per step; give a slow (sanitizer) build a moment.
  let used = -1;
  for (let i = 0; i < 50 && used !== 0; ++i) {
    used = await metric('llmux_kv_cache_blocks', [`model="${model}"`, 'state="used"']);
    if (used !== 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(used, 0);
  const cached = await metric('llmux_kv_cache_blocks', [`model="${model}"`, 'state="cached"']);
  const free = await metric('llmux_kv_cache_blocks', [`model="${model}"`, 'state="free"']);
  assert.ok(cached > 0, 'finished prompts stay cached');
  assert.ok(free > 0);
  assert.equal(await metric('llmux_kv_cache_usage_ratio', [`model="${model}"`]), 0);
  assert.ok(await metric('llmux_kv_cache_capacity_bytes', [`model="${model}"`]) > 0);
});
