// The audit log, newest first, a page at a time (?before=<next_cursor>).
import { getJson, type List } from '../api';
import { formatTime, h, notice, table } from '../dom';
import { needs, type Page } from '../page';

interface AuditEvent {
  id: number;
  time_ms: number;
  actor: string;
  action: string;
  target: string;
  source: string;
  outcome: string;
  detail: string;
}

export const auditPage: Page = {
  path: 'audit',
  title: 'Audit',
  allowed: needs('logs:read'),
  render(root) {
    const body = h('div', {});
    const more = h('button', { type: 'button', hidden: true }, 'Older');
    let cursor: number | null = null;
    const load = async () => {
      try {
        const q = cursor ? `&before=${cursor}` : '';
        const page = await getJson<List<AuditEvent>>(`/admin/v1/audit?limit=100${q}`);
        body.append(
          table(
            page.data,
            [
              ['Time', (e) => formatTime(e.time_ms)],
              ['Actor', (e) => e.actor],
              ['Action', (e) => e.action],
              ['Target', (e) => e.target],
              ['Outcome', (e) => e.outcome],
              ['Source', (e) => e.source],
              ['Detail', (e) => e.detail],
            ],
            'audit',
          ),
        );
        cursor = page.next_cursor ?? null;
        more.hidden = !page.has_more;
      } catch (e) {
        body.append(notice((e as Error).message, 'error'));
      }
    };
    more.addEventListener('click', () => void load());
    root.append(body, more);
    void load();
  },
};
