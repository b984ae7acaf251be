// Request-log search: filters, the matching records, aggregates (per hour, key or model) and
// a CSV download of the same filter (fetched with the caller's credentials, saved as a file).
import { call, getJson, type List } from '../api';
import { clear, h, notice, table } from '../dom';
import { needs, type Page } from '../page';

interface RequestRecord {
  id: number;
  time: string;
  protocol: string;
  route: string;
  principal: string;
  key_id: number | null;
  user_id: number | null;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  ttft_ms: number | null;
  latency_ms: number;
  status: number;
  error_class: string | null;
  client: string;
}

interface StatsRow {
  group: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  p50_latency_ms: number;
  p99_latency_ms: number;
  p50_ttft_ms: number | null;
  p99_ttft_ms: number | null;
}

// datetime-local gives local wall time without a zone: the API wants unix ms or RFC 3339.
const toMillis = (local: string) => (local ? String(new Date(local).getTime()) : '');

export const logsPage: Page = {
  path: 'logs',
  title: 'Request log',
  allowed: needs('logs:read'),
  render(root) {
    const from = h('input', { type: 'datetime-local', 'data-testid': 'logs-from' });
    const to = h('input', { type: 'datetime-local', 'data-testid': 'logs-to' });
    const model = h('input', { placeholder: 'model', 'data-testid': 'logs-model' });
    const status = h('input', { placeholder: 'ok, error or 429', 'data-testid': 'logs-status' });
    const key = h('input', { type: 'number', min: 1, placeholder: 'key id', 'data-testid': 'logs-key' });
    const user = h('input', { type: 'number', min: 1, placeholder: 'user id', 'data-testid': 'logs-user' });
    const group = h('select', {}, h('option', { value: 'model' }, 'per model'), h('option', { value: 'key' }, 'per key'), h('option', { value: 'hour' }, 'per hour'));
    const results = h('div', {});
    const stats = h('div', {});
    const messages = h('div', {});
    const more = h('button', { type: 'button', hidden: true }, 'More');
    let cursor: number | null = null;

    const query = () => {
      const q = new URLSearchParams();
      const add = (name: string, value: string) => value && q.set(name, value);
      add('from', toMillis(from.value));
      add('to', toMillis(to.value));
      add('model', model.value.trim());
      add('status', status.value.trim());
      add('key', key.value);
      add('user', user.value);
      return q;
    };
    const records = (rows: RequestRecord[]) =>
      table(
        rows,
        [
          ['Time', (r) => r.time],
          ['Principal', (r) => r.principal],
          ['Route', (r) => `${r.protocol} ${r.route}`],
          ['Model', (r) => r.model],
          ['Status', (r) => [String(r.status), r.error_class ? ` ${r.error_class}` : '']],
          ['Tokens in/out', (r) => `${r.prompt_tokens} / ${r.completion_tokens}`],
          ['TTFT ms', (r) => r.ttft_ms ?? ''],
          ['Latency ms', (r) => r.latency_ms],
          ['Client', (r) => r.client],
        ],
        'logs',
      );
    const search = async (next = false) => {
      messages.replaceChildren();
      const q = query();
      q.set('limit', '100');
      if (next && cursor) q.set('cursor', String(cursor));
      const s = query();
      s.set('group', group.value);
      try {
        const [page, agg] = await Promise.all([
          getJson<List<RequestRecord>>(`/admin/v1/logs?${q}`),
          next ? null : getJson<{ data: StatsRow[]; truncated: boolean }>(`/admin/v1/logs/stats?${s}`),
        ]);
        if (!next) clear(results);
        results.append(records(page.data));
        if (!next && page.data.length === 0) results.append(notice('No requests match.'));
        cursor = page.next_cursor ?? null;
        more.hidden = !page.has_more;
        if (agg) {
          clear(stats);
          stats.append(
            h('h2', {}, 'Aggregates'),
            table(
              agg.data,
              [
                [group.value, (r) => r.group],
                ['Requests', (r) => r.requests],
                ['Errors', (r) => r.errors],
                ['Prompt tokens', (r) => r.prompt_tokens],
                ['Completion tokens', (r) => r.completion_tokens],
                ['Latency p50/p99 ms', (r) => `${r.p50_latency_ms} / ${r.p99_latency_ms}`],
                ['TTFT p50/p99 ms', (r) => `${r.p50_ttft_ms ?? '–'} / ${r.p99_ttft_ms ?? '–'}`],
              ],
              'logs-stats',
            ),
            agg.truncated ? notice('Aggregates cover the newest records only (the scan was bounded).') : '',
          );
        }
      } catch (e) {
        messages.replaceChildren(notice((e as Error).message, 'error'));
      }
    };
    const csv = async () => {
      try {
        const r = await call(`/admin/v1/logs.csv?${query()}`);
        const url = URL.createObjectURL(await r.blob());
        const a = h('a', { href: url, download: 'llmux-requests.csv' });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (e) {
        messages.replaceChildren(notice((e as Error).message, 'error'));
      }
    };
    more.addEventListener('click', () => void search(true));
    const form = h(
      'form',
      {
        class: 'inline',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void search();
        },
      },
      h('label', {}, 'From', from),
      h('label', {}, 'To', to),
      h('label', {}, 'Model', model),
      h('label', {}, 'Status', status),
      h('label', {}, 'Key', key),
      h('label', {}, 'User', user),
      h('label', {}, 'Aggregate', group),
      h('button', { type: 'submit', 'data-testid': 'logs-search' }, 'Search'),
      h('button', { type: 'button', onclick: () => void csv(), 'data-testid': 'logs-csv' }, 'CSV'),
    );
    root.append(form, messages, stats, h('h2', {}, 'Requests'), results, more);
    void search();
  },
};
