// The models this process serves (GET /admin/v1/models, refreshed every 2 s): state (loading,
// loaded, idle, failed with the reason), memory, requests in flight; load a registry version
// under a name, unload, and hot update (POST /admin/v1/models/update) with its answer shown.
import { getJson, sendJson, type List } from '../../api';
import { dangerButton, formatBytes, formatTime, h, notice, table } from '../../dom';
import { listView, needs, type Page } from '../../page';
import { refsOf, shortDigest, type RegistryModel, type ServedModel } from './types';

interface Done {
  name: string;
  ref: string;
  digest: string;
}

// No keep-alive (null): it stays loaded until unloaded.
const keepAlive = (s: number | null) => (s === null || s < 0 ? 'until unloaded' : `${s} s`);

export const servedPage: Page = {
  path: 'served',
  title: 'Served models',
  allowed: needs('models:manage'),
  render(root) {
    const result = h('div', { 'data-testid': 'served-result' });
    const names = h('datalist', { id: 'served-names' });
    const refs = h('datalist', { id: 'registry-refs' });
    const options = (list: HTMLDataListElement, values: string[]) =>
      list.replaceChildren(...values.map((v) => h('option', { value: v })));
    // Runs a load, unload or update and shows its answer (or why it failed) until the next one.
    const run = (what: string, change: () => Promise<unknown>) =>
      view.act(async () => {
        await loadRefs();
        result.replaceChildren(h('p', { class: 'notice' }, `${what}…`));
        try {
          const done = (await change()) as Partial<Done>;
          const digest = done.digest ? ` (${done.digest.slice(0, 19)}…)` : '';
          result.replaceChildren(h('p', { class: 'notice', 'data-testid': 'served-ok' }, `${what}: done${digest}`));
        } catch (e) {
          result.replaceChildren(notice(`${what}: ${(e as Error).message}`, 'error'));
        }
      });
    const view = listView(async () => {
      const listed = (await getJson<{ models: ServedModel[] }>('/admin/v1/models')).models;
      const served = listed.filter((m) => m.state !== 'downloading');
      options(names, served.map((m) => m.name));
      // Pulls running here come first, with their progress and none of a served model's cells.
      const pulling = (m: ServedModel) => m.state === 'downloading';
      const progress = (m: ServedModel) =>
        m.total ? ` ${Math.floor((100 * (m.completed ?? 0)) / m.total)}%` : '';
      return table(
        listed,
        [
          ['Name', (m) => m.name],
          ['State', (m) => h('span', { class: `state ${m.state}`, 'data-state': m.state }, m.state, pulling(m) ? progress(m) : '', m.reason ? `: ${m.reason}` : '')],
          ['Memory', (m) => (pulling(m) ? '' : formatBytes(m.memory_bytes))],
          ['In flight', (m) => (pulling(m) ? '' : m.in_flight)],
          ['Keep-alive', (m) => (pulling(m) ? '' : m.pinned ? 'pinned' : keepAlive(m.keep_alive_s))],
          ['Loaded', (m) => (pulling(m) ? '' : formatTime(m.loaded_at * 1000))],
          ['Registry version', (m) => (pulling(m) ? '' : versions.get(m.path) ?? '')],
          ['File', (m) => h('code', {}, pulling(m) ? m.source ?? '' : m.path)],
          [
            '',
            (m) =>
              pulling(m) ? '' : dangerButton('Unload', `Unload ${m.name}? Running requests end.`, () =>
                void run(`Unload ${m.name}`, () => sendJson('POST', '/admin/v1/models/unload', { name: m.name })),
                { 'data-testid': `unload-${m.name}` },
              ),
          ],
        ],
        'served',
      );
    });
    // Which registry version each served file is (its tags, else its digest), by path.
    let versions = new Map<string, string>();
    const loadRefs = async () => {
      try {
        const registry = (await getJson<List<RegistryModel>>('/admin/v1/registry/models')).data;
        options(refs, refsOf(registry));
        versions = new Map(
          registry.flatMap((m) =>
            m.versions.map((v) => {
              const tags = m.tags.filter((t) => t.digest === v.digest).map((t) => `${m.name}:${t.name}`);
              return [v.path, tags.length ? tags.join(', ') : `${m.name}@${shortDigest(v.digest)}`] as [string, string];
            }),
          ),
        );
      } catch {
        /* without models:read the refs are typed by hand */
      }
    };

    const form = (
      id: string,
      title: string,
      submit: (name: string, ref: string) => void,
      nameAttrs: Record<string, string> = {},
    ) => {
      const name = h('input', { required: true, size: 16, 'data-testid': `${id}-name`, ...nameAttrs });
      const ref = h('input', { required: true, size: 20, list: 'registry-refs', placeholder: 'model:tag', 'data-testid': `${id}-ref` });
      return h(
        'form',
        {
          class: 'inline',
          onsubmit: (e: Event) => {
            e.preventDefault();
            submit(name.value.trim(), ref.value.trim());
          },
        },
        h('label', {}, 'Served name', name),
        h('label', {}, 'Registry version', ref),
        h('button', { type: 'submit', 'data-testid': `${id}-submit` }, title),
      );
    };
    const load = form('load', 'Load', (name, ref) =>
      void run(`Load ${ref} as ${name}`, () => sendJson('POST', '/admin/v1/models/load', { name, ref })),
    );
    const update = form(
      'update',
      'Hot update',
      (name, ref) => void run(`Update ${name} to ${ref}`, () => sendJson('POST', '/admin/v1/models/update', { name, ref })),
      { list: 'served-names' },
    );
    root.append(
      names,
      refs,
      h('h2', {}, 'Load a registry version'),
      load,
      h('h2', {}, 'Hot update'),
      h('p', { class: 'hint' }, 'Loads the version beside the served copy, then switches new requests to it; a failed load keeps the old copy serving.'),
      update,
      result,
      h('h2', {}, 'Served now'),
      view.status,
      view.list,
    );
    void loadRefs().then(view.reload);
    const timer = setInterval(() => void view.reload(), 2000);
    return () => clearInterval(timer);
  },
};
