// MCP layer overhead: the same greedy chat request sent as an MCP tools/call of `chat` (over a
// Streamable HTTP session) and as POST /v1/chat/completions, against one running `llmux serve`,
// at each concurrency. Both sides use plain fetch with keep-alive so that only the server's
// path differs. Rounds alternate MCP / OpenAI so that machine noise hits both alike.
//
//   node bench/mcp/mcp_bench.mjs --url http://127.0.0.1:8080 --model NAME \
//        [--concurrency 1,8] [--requests 32] [--max-tokens 32] [--rounds 3] [--api-key KEY]
//
// Prints per side and concurrency: requests/s, output tokens/s, latency p50/p99, then the
// ratio MCP / OpenAI (1.00 = no overhead).
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' }, model: { type: 'string' }, concurrency: { type: 'string', default: '1,8' },
    requests: { type: 'string', default: '32' }, 'max-tokens': { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' }, 'api-key': { type: 'string', default: process.env.LLMUX_API_KEY ?? '' },
  },
});
if (!opt.url || !opt.model) {
  console.error('usage: mcp_bench.mjs --url URL --model NAME [--concurrency 1,8] [--requests N] [--max-tokens N]');
  process.exit(2);
}
const auth = opt['api-key'] ? { authorization: `Bearer ${opt['api-key']}` } : {};
const maxTokens = Number(opt['max-tokens']);
const requests = Number(opt.requests);
const rounds = Number(opt.rounds);

// Different prompts per request (no prefix-cache advantage for either side).
const prompt = (i) => `Request ${i}: tell me a short story about a ${['cat', 'dog', 'bird', 'fish'][i % 4]} number ${i}.`;
const body = (i) => ({ model: opt.model, messages: [{ role: 'user', content: prompt(i) }], max_tokens: maxTokens, temperature: 0 });

async function openSession() {
  const r = await fetch(`${opt.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...auth },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'mcp_bench', version: '1' } } }),
  });
  if (r.status !== 200) throw new Error(`initialize: HTTP ${r.status} ${await r.text()}`);
  return r.headers.get('mcp-session-id');
}

// One call each way; resolves with the number of generated tokens.
async function viaOpenAi(i) {
  const r = await fetch(`${opt.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body(i)),
  });
  const j = await r.json();
  if (!j.usage) throw new Error(JSON.stringify(j));
  return j.usage.completion_tokens;
}

async function viaMcp(i, session) {
  const r = await fetch(`${opt.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25', ...auth },
    body: JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'chat', arguments: body(i) } }),
  });
  const j = await r.json();
  if (!j.result || j.result.isError) throw new Error(JSON.stringify(j));
  return j.result.structuredContent.usage.completion_tokens;
}

async function measure(call, concurrency) {
  const latencies = [];
  let tokens = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      const i = next++;
      const t0 = performance.now();
      const n = await call(i);  // not `tokens += await ...`: that reads tokens before the wait
      tokens += n;
      latencies.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  return { seconds, tokens, latencies };
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

const session = await openSession();
await viaOpenAi(0);  // warm-up
await viaMcp(0, session);
console.log(`model ${opt.model}, ${requests} requests per round, ${rounds} rounds, max_tokens ${maxTokens}, greedy`);
console.log('| concurrency | path | req/s | out tok/s | latency p50 ms | latency p99 ms |');
console.log('|---:|---|---:|---:|---:|---:|');
const ratios = [];
for (const c of opt.concurrency.split(',').map(Number)) {
  const total = { mcp: { seconds: 0, tokens: 0, latencies: [], n: 0 }, openai: { seconds: 0, tokens: 0, latencies: [], n: 0 } };
  for (let r = 0; r < rounds; ++r) {
    for (const [name, call] of [['mcp', (i) => viaMcp(i, session)], ['openai', viaOpenAi]]) {
      const m = await measure(call, c);
      total[name].seconds += m.seconds;
      total[name].tokens += m.tokens;
      total[name].latencies.push(...m.latencies);
      total[name].n += m.latencies.length;
    }
  }
  for (const name of ['mcp', 'openai']) {
    const t = total[name];
    console.log(`| ${c} | ${name === 'mcp' ? 'MCP tools/call chat' : '/v1/chat/completions'} | ${(t.n / t.seconds).toFixed(1)} | ` +
      `${(t.tokens / t.seconds).toFixed(1)} | ${pct(t.latencies, 0.5).toFixed(1)} | ${pct(t.latencies, 0.99).toFixed(1)} |`);
  }
  ratios.push({ c, throughput: (total.mcp.n / total.mcp.seconds) / (total.openai.n / total.openai.seconds),
    p50: pct(total.mcp.latencies, 0.5) / pct(total.openai.latencies, 0.5) });
}
for (const r of ratios) {
  console.log(`concurrency ${r.c}: MCP/OpenAI throughput ${r.throughput.toFixed(3)}, p50 latency ${r.p50.toFixed(3)}`);
}
