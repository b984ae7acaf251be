// One model of the registry: its versions (by sha256), tags, default parameters and the history
// of changes with rollback. Controls that change something appear only with models:manage.
// Moving a tag (or rolling a tag change back) updates the served models whose name refers to the
// tag; the page lists each one with how its update went.
import { getJson, sendJson, type List } from '../../api';
import { button, dangerButton, formatBytes, formatTime, h, notice, table } from '../../dom';
import { listView } from '../../page';
import { parametersEditor } from './parameters';
import { shortDigest, type Change, type RegistryModel, type ServedUpdate } from './types';

const q = encodeURIComponent;
const json = (v: unknown) => (v === null || v === undefined ? '' : h('code', {}, JSON.stringify(v)));

export function registryModel(name: string, canManage: boolean, onChange: () => void): HTMLElement {
  const view = listView(async () => {
    const [m, history] = await Promise.all([
      getJson<RegistryModel>(`/admin/v1/registry/models?name=${q(name)}`),
      getJson<List<Change>>(`/admin/v1/registry/history?model=${q(name)}&limit=50`),
    ]);
    return [
      h('h2', {}, 'Versions'),
      table(
        m.versions,
        [
          ['Digest', (v) => h('code', { title: v.digest }, shortDigest(v.digest))],
          ['Size', (v) => formatBytes(v.size_bytes)],
          ['Architecture', (v) => v.architecture],
          ['Created', (v) => [formatTime(v.created_at * 1000), v.created_by ? ` by ${v.created_by}` : '']],
          ['Tags', (v) => m.tags.filter((t) => t.digest === v.digest).map((t) => t.name).join(', ')],
          ['Path', (v) => h('code', {}, v.path)],
          [
            '',
            (v) =>
              canManage &&
              dangerButton('Delete', `Delete version ${shortDigest(v.digest)} of ${name}?`, () =>
                void act(() => sendJson('DELETE', `/admin/v1/registry/versions?model=${q(name)}&digest=${q(v.digest)}`)),
              ),
          ],
        ],
        'versions',
      ),
      h('h2', {}, 'Tags'),
      table(
        m.tags,
        [
          ['Tag', (t) => `${name}:${t.name}`],
          ['Version', (t) => h('code', {}, shortDigest(t.digest))],
          ['Updated', (t) => [formatTime(t.updated_at * 1000), t.updated_by ? ` by ${t.updated_by}` : '']],
          [
            '',
            (t) =>
              canManage &&
              dangerButton('Delete', `Delete tag ${name}:${t.name}?`, () =>
                void act(() => sendJson('DELETE', `/admin/v1/registry/tags?model=${q(name)}&tag=${q(t.name)}`)),
                { 'data-testid': `tag-delete-${t.name}` },
              ),
          ],
        ],
        'tags',
      ),
      canManage && tagForm(m),
      h('h2', {}, 'Default parameters'),
      parametersEditor(m.parameters, canManage, (parameters) =>
        act(() => sendJson('PUT', '/admin/v1/registry/parameters', { model: name, parameters })),
      ),
      h('h2', {}, 'History'),
      table(
        history.data,
        [
          ['Id', (c) => c.id],
          ['When', (c) => formatTime(c.time_ms)],
          ['Who', (c) => c.actor_name || c.actor],
          ['Change', (c) => [c.kind, c.target ? ` ${c.target}` : '', c.rollback_of ? ` (rollback of ${c.rollback_of})` : '']],
          ['Before', (c) => json(c.before)],
          ['After', (c) => json(c.after)],
          [
            '',
            (c) =>
              canManage &&
              button(
                'Roll back',
                () => void act(() => moving(`Rolling back change ${c.id}`, sendJson<Change>('POST', '/admin/v1/registry/rollback', { change_id: c.id }))),
                { 'data-testid': `rollback-${c.id}` },
              ),
          ],
        ],
        'history',
      ),
    ];
  });
  // A change here may change the list of models too.
  const act = (change: () => Promise<unknown>) =>
    view.act(async () => {
      await change();
      onChange();
    });
  // What the last tag move did to the served models (kept across the reloads of the view).
  const updates = h('div', { 'data-testid': 'tag-updates' });
  const outcome = (u: ServedUpdate) =>
    u.ok
      ? h('p', { class: 'notice', 'data-testid': `tag-updated-${u.name}` }, `${u.name} now serves ${u.path}`, u.deploy ? ` (rollout ${u.deploy.id})` : '')
      : h('p', { class: 'notice error', role: 'alert', 'data-testid': `tag-update-failed-${u.name}` }, `${u.name} keeps its version: ${u.error ?? ''}`);
  async function moving(what: string, change: Promise<Change>): Promise<void> {
    updates.replaceChildren(notice(`${what}…`));
    try {
      const c = await change;
      const list = c.updated ?? [];
      updates.replaceChildren(
        h('p', { class: 'notice', 'data-testid': 'tag-moved' }, `${what}: done`, list.length ? '' : ' (no served model refers to the tag)'),
        ...list.map(outcome),
      );
    } catch (e) {
      updates.replaceChildren();
      throw e;
    }
  }
  function tagForm(m: RegistryModel): HTMLElement {
    const tag = h('input', { required: true, size: 12, 'data-testid': 'tag-name' });
    const version = h(
      'select',
      { 'data-testid': 'tag-version' },
      m.versions.map((v) => h('option', { value: v.digest }, `${shortDigest(v.digest)} (${formatBytes(v.size_bytes)})`)),
    );
    return h(
      'form',
      {
        class: 'inline',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const t = tag.value.trim();
          void act(() =>
            moving(`Move ${name}:${t} to ${shortDigest(version.value)}`, sendJson<Change>('PUT', '/admin/v1/registry/tags', { model: name, tag: t, digest: version.value })),
          );
        },
      },
      h('label', {}, 'Tag', tag),
      h('label', {}, 'Version', version),
      h('button', { type: 'submit', 'data-testid': 'tag-save' }, 'Set tag'),
    );
  }
  void view.reload();
  return h('div', { class: 'detail', 'data-testid': 'registry-model', 'data-model': name }, h('h2', {}, name), view.status, updates, view.list);
}
