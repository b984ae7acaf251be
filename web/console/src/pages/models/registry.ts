// The model registry: every model with its versions and tags; pull (with live progress) and
// register files as versions; one model's details (versions, tags, parameters, history) below
// the list. Needs models:read; the controls that change something need models:manage.
import { getJson, sendJson, type List, type Me } from '../../api';
import { button, dangerButton, formatTime, h, table } from '../../dom';
import { listView, needs, type Page } from '../../page';
import { pullForm } from './pull';
import { registryModel } from './registry_model';
import { shortDigest, type RegistryModel } from './types';

function registerForm(act: (change: () => Promise<unknown>) => Promise<void>): HTMLElement {
  const path = h('input', { required: true, size: 48, placeholder: '/path/on/the/server/model.gguf', 'data-testid': 'register-path' });
  const model = h('input', { required: true, size: 16, 'data-testid': 'register-model' });
  const tag = h('input', { size: 10, placeholder: 'latest', 'data-testid': 'register-tag' });
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const body: Record<string, string> = { path: path.value.trim(), model: model.value.trim() };
        if (tag.value.trim()) body.tag = tag.value.trim();
        void act(async () => {
          await sendJson('POST', '/admin/v1/registry/versions', body);
          form.reset();
        });
      },
    },
    h('label', {}, 'File on the server', path),
    h('label', {}, 'Model', model),
    h('label', {}, 'Tag', tag),
    h('button', { type: 'submit', 'data-testid': 'register-save' }, 'Register version'),
  );
  return h('div', {}, h('h2', {}, 'Register a file'), form);
}

export const registryPage: Page = {
  path: 'registry',
  title: 'Model registry',
  allowed: needs('models:read'),
  render(root, me: Me) {
    const canManage = me.allows['models:manage'] === true;
    const detail = h('div', {});
    let selected: string | null = null;
    const select = (name: string | null) => {
      selected = name;
      detail.replaceChildren(name ? registryModel(name, canManage, () => void view.reload()) : '');
    };
    const view = listView(async () => {
      const models = (await getJson<List<RegistryModel>>('/admin/v1/registry/models')).data;
      if (selected && !models.some((m) => m.name === selected)) select(null);
      return table(
        models,
        [
          ['Model', (m) => button(m.name, () => select(m.name), { class: 'link', 'data-testid': `registry-open-${m.name}` })],
          ['Versions', (m) => m.versions.length],
          ['Tags', (m) => m.tags.map((t) => h('span', { class: 'tag' }, `${t.name} → `, h('code', {}, shortDigest(t.digest))))],
          ['Updated', (m) => formatTime(m.updated_at * 1000)],
          [
            '',
            (m) =>
              canManage &&
              dangerButton('Delete', `Delete model ${m.name} (its versions, tags and parameters)?`, () =>
                void view.act(() => sendJson('DELETE', `/admin/v1/registry/models?name=${encodeURIComponent(m.name)}`)),
              ),
          ],
        ],
        'registry',
      );
    });
    if (canManage) root.append(pullForm(() => void view.reload()), registerForm(view.act));
    root.append(h('h2', {}, 'Models'), view.status, view.list, detail);
    void view.reload();
  },
};
