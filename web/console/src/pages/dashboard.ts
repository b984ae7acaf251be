// Charts of the server's recent activity (uPlot). The source is the server's metric history
// when GET /admin/v1/metrics/history exists; otherwise the page says so and charts what it
// samples from GET /metrics itself while it is open.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiError, call, getJson } from '../api';
import { h, notice } from '../dom';
import { MetricsSampler, type History, type Point } from '../metrics';
import type { Page } from '../page';

type Field = Exclude<keyof Point, 't'>;

const CHARTS: { title: string; fields: [Field, string, string][] }[] = [
  { title: 'Requests / s', fields: [['requests_per_s', 'requests/s', '#2563eb'], ['errors_per_s', 'errors/s', '#dc2626']] },
  {
    title: 'Tokens / s',
    fields: [['generated_tokens_per_s', 'generated', '#16a34a'], ['prompt_tokens_per_s', 'prompt', '#9333ea']],
  },
  {
    title: 'Latency (ms)',
    fields: [
      ['ttft_ms_p50', 'TTFT p50', '#0891b2'],
      ['ttft_ms_p99', 'TTFT p99', '#0e7490'],
      ['itl_ms_p50', 'ITL p50', '#ea580c'],
      ['itl_ms_p99', 'ITL p99', '#9a3412'],
    ],
  },
  { title: 'Queue', fields: [['running', 'running', '#2563eb'], ['queue_depth', 'waiting', '#f59e0b']] },
  { title: 'KV cache used', fields: [['kv_used_fraction', 'fraction', '#4f46e5']] },
];

const MAX_LOCAL_POINTS = 300;

function chart(title: string, fields: [Field, string, string][], width: number): uPlot {
  const opts: uPlot.Options = {
    title,
    width,
    height: 180,
    series: [{}, ...fields.map(([, label, stroke]) => ({ label, stroke, width: 2, spanGaps: false }))],
    axes: [{}, { size: 60 }],
    scales: { x: { time: true } },
  };
  return new uPlot(opts, [[], ...fields.map(() => [])], h('div', { class: 'chart' }));
}

export const dashboardPage: Page = {
  path: 'dashboard',
  title: 'Dashboard',
  allowed: (me) => me.allows['metrics:read'] === true,
  render(root) {
    const resolution = h('select', { 'data-testid': 'dash-resolution' }, h('option', { value: '1s' }, '1 s'), h('option', { value: '1m' }, '1 min'));
    const source = h('div', { 'data-testid': 'dash-source' });
    const models = h('p', { class: 'hint' });
    const grid = h('div', { class: 'charts' });
    root.append(h('div', { class: 'row' }, h('label', {}, 'Resolution', resolution)), source, models, grid);
    const width = Math.max(320, Math.min(560, (root.clientWidth || 1100) / 2 - 24));
    const plots = CHARTS.map((c) => chart(c.title, c.fields, width));
    for (const p of plots) grid.append(p.root.parentElement ?? p.root);

    const draw = (points: Point[]) => {
      const xs = points.map((p) => (p.t > 1e12 ? p.t / 1000 : p.t));
      CHARTS.forEach((c, i) => {
        plots[i].setData([xs, ...c.fields.map(([f]) => points.map((p) => p[f]))] as uPlot.AlignedData);
      });
    };

    let mode: 'history' | 'local' | null = null;
    const sampler = new MetricsSampler();
    const local: Point[] = [];
    let timer: number | undefined;
    const tick = async () => {
      if (mode !== 'local') {
        try {
          const hist = await getJson<History>(`/admin/v1/metrics/history?resolution=${resolution.value}`);
          if (mode !== 'history') source.replaceChildren(notice(`Server metric history, ${hist.resolution_s} s resolution.`));
          mode = 'history';
          const names = (hist.models ?? []).map((m) =>
            typeof m === 'string' ? m : String((m as { name?: string; id?: string }).name ?? (m as { id?: string }).id ?? ''),
          );
          models.textContent = names.length ? `Models: ${names.join(', ')}` : '';
          draw(hist.series);
          return;
        } catch (e) {
          if (!(e instanceof ApiError && e.status === 404)) {
            source.replaceChildren(notice(`Metric history failed: ${(e as Error).message}`, 'error'));
            return;
          }
          mode = 'local';
          resolution.disabled = true;
          source.replaceChildren(
            h(
              'p',
              { class: 'notice info', 'data-testid': 'dash-not-available' },
              'Metric history is not available on this server (GET /admin/v1/metrics/history answered 404). ' +
                'Showing live values this page samples from /metrics every 2 s while it is open (no latency percentiles).',
            ),
          );
        }
      }
      try {
        const text = await (await call('/metrics')).text();
        const p = sampler.sample(text, Date.now() / 1000);
        if (p) {
          local.push(p);
          if (local.length > MAX_LOCAL_POINTS) local.shift();
          draw(local);
          grid.setAttribute('data-points', String(local.length));
          // For tests and a glance: the peak generated tokens/s the charts hold.
          grid.setAttribute('data-peak-tokens-per-s', String(Math.max(0, ...local.map((q) => q.generated_tokens_per_s ?? 0))));
        }
      } catch (e) {
        source.append(notice(`/metrics failed: ${(e as Error).message}`, 'error'));
      }
    };
    resolution.addEventListener('change', () => void tick());
    void tick();
    timer = window.setInterval(() => void tick(), 2000);
    return () => {
      window.clearInterval(timer);
      plots.forEach((p) => p.destroy());
    };
  },
};
