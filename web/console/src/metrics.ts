// Dashboard data: the server's metric history (GET /admin/v1/metrics/history) when it has one,
// else points this page samples itself from the Prometheus text of GET /metrics.

export interface Point {
  t: number; // unix seconds
  requests_per_s: number | null;
  generated_tokens_per_s: number | null;
  prompt_tokens_per_s: number | null;
  ttft_ms_p50: number | null;
  ttft_ms_p99: number | null;
  itl_ms_p50: number | null;
  itl_ms_p99: number | null;
  kv_used_fraction: number | null;
  queue_depth: number | null;
  running: number | null;
  errors_per_s: number | null;
}

export interface History {
  resolution_s: number;
  now: number;
  series: Point[];
  models?: unknown[];
}

// name -> samples ({labels text, value}) of a Prometheus text exposition.
export function parsePrometheus(text: string): Map<string, { labels: string; value: number }[]> {
  const out = new Map<string, { labels: string; value: number }[]>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const list = out.get(m[1]) ?? [];
    list.push({ labels: m[2] ?? '', value });
    out.set(m[1], list);
  }
  return out;
}

const sum = (m: ReturnType<typeof parsePrometheus>, name: string, filter = (_: string) => true) => {
  const samples = m.get(name);
  return samples ? samples.filter((s) => filter(s.labels)).reduce((a, s) => a + s.value, 0) : null;
};
const max = (m: ReturnType<typeof parsePrometheus>, name: string) => {
  const samples = m.get(name);
  return samples && samples.length ? Math.max(...samples.map((s) => s.value)) : null;
};

// Turns successive /metrics scrapes into points: counters become rates between two scrapes.
export class MetricsSampler {
  private last: { t: number; requests: number | null; generated: number | null; prompt: number | null; errors: number | null } | null = null;

  sample(text: string, tSeconds: number): Point | null {
    const m = parsePrometheus(text);
    // A labelled counter has no sample until its first increment: absent counts as 0 then.
    const counter = (name: string, filter?: (labels: string) => boolean) => sum(m, name, filter) ?? 0;
    const now = {
      t: tSeconds,
      requests: counter('llmux_requests_total'),
      generated: counter('llmux_generation_tokens_total'),
      prompt: counter('llmux_prompt_tokens_total'),
      errors: counter('llmux_requests_total', (labels) => labels.includes('error')),
    };
    const prev = this.last;
    this.last = now;
    if (!prev || now.t <= prev.t) return null;
    const dt = now.t - prev.t;
    const rate = (a: number | null, b: number | null) => (a === null || b === null ? null : Math.max(0, (a - b) / dt));
    return {
      t: now.t,
      requests_per_s: rate(now.requests, prev.requests),
      generated_tokens_per_s: rate(now.generated, prev.generated),
      prompt_tokens_per_s: rate(now.prompt, prev.prompt),
      ttft_ms_p50: null,
      ttft_ms_p99: null,
      itl_ms_p50: null,
      itl_ms_p99: null,
      kv_used_fraction: max(m, 'llmux_kv_cache_usage_ratio'),
      queue_depth: sum(m, 'llmux_requests_waiting'),
      running: sum(m, 'llmux_requests_running'),
      errors_per_s: rate(now.errors, prev.errors),
    };
  }
}
