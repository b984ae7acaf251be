// Dashboards and model lifecycle against real servers: the metric history
// (GET /admin/v1/metrics/history) after real completions, and keep-alive, idle unload and the
// loaded-model limit through the `ollama` npm client, /api/ps and GET /admin/v1/models.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const base = process.env.LLMUX_BASE_URL;
const model = process.env.LLMUX_MODEL; // stories260K
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function getJson(url) {
  const r = await fetch(url);
  return { status: r.status, body: await r.json() };
}

test('metric history: real completions show as requests and tokens per second', async () => {
  const before = Math.floor(Date.now() / 1000) - 1;
  let generated = 0;
  let prompt = 0;
  const n = 3;
  for (let i = 0; i < n; ++i) {
    const r = await fetch(`${base}/v1/completions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'Once upon a time', max_tokens: 12, ignore_eos: true }),
    });
    assert.equal(r.status, 200);
    const { usage } = await r.json();
    generated += usage.completion_tokens;
    prompt += usage.prompt_tokens;
  }
  assert.equal(generated, n * 12);
  // Intervals are reported once they have ended.
  await sleep(1100);
  const { status, body } = await getJson(
    `${base}/admin/v1/metrics/history?resolution=1s&model=${model}&since=${before}`);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.resolution_s, 1);
  assert.ok(Math.abs(body.now - Date.now() / 1000) < 5, String(body.now));
  assert.ok(body.models.includes(model), JSON.stringify(body.models));
  const sum = (f) => body.series.reduce((s, p) => s + p[f] * body.resolution_s, 0);
  assert.equal(sum('requests_per_s'), n);
  assert.equal(sum('generated_tokens_per_s'), generated);
  assert.equal(sum('prompt_tokens_per_s'), prompt);
  assert.equal(sum('errors_per_s'), 0);
  assert.ok(body.series.some((p) => p.generated_tokens_per_s > 0));
  const busy = body.series.filter((p) => p.requests_per_s > 0);
  for (const p of busy) {
    assert.ok(p.ttft_ms_p50 > 0 && p.ttft_ms_p99 >= p.ttft_ms_p50, JSON.stringify(p));
    assert.ok(p.itl_ms_p50 > 0 && p.itl_ms_p99 >= p.itl_ms_p50, JSON.stringify(p));
  }
  for (const p of body.series) {
    for (const f of ['t', 'requests_per_s', 'generated_tokens_per_s', 'prompt_tokens_per_s',
      'ttft_ms_p50', 'ttft_ms_p99', 'itl_ms_p50', 'itl_ms_p99', 'kv_used_fraction', 'queue_depth',
      'running', 'errors_per_s']) {
      assert.ok(f in p, `${f} missing in ${JSON.stringify(p)}`);
    }
    assert.ok(p.kv_used_fraction >= 0 && p.kv_used_fraction <= 1);
  }
  // All models together count at least these requests.
  const all = await getJson(`${base}/admin/v1/metrics/history?since=${before}`);
  assert.equal(all.status, 200);
  assert.ok(all.body.series.reduce((s, p) => s + p.requests_per_s, 0) >= n);

  const bad = await getJson(`${base}/admin/v1/metrics/history?resolution=5s`);
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /resolution/);
  assert.equal((await getJson(`${base}/admin/v1/metrics/history?model=nope`)).status, 404);
  assert.equal((await getJson(`${base}/admin/v1/metrics/history?limit=3`)).status, 400);
});
