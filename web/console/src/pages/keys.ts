// API keys: list, create (the secret is shown once, here), revoke.
import { getJson, sendJson, type List } from '../api';
import { button, formatTime, h, table } from '../dom';
import { listView, needs, type Page } from '../page';

interface Key {
  id: number;
  prefix: string;
  name: string;
  owner_user_id: number;
  scopes: string[];
  allowed_models: string[];
  expires_at: number;
  revoked_at: number;
  last_used_at: number;
  created_at: number;
}

const splitList = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export const keysPage: Page = {
  path: 'keys',
  title: 'API keys',
  allowed: needs('keys:manage'),
  render(root, me) {
    const created = h('div', { 'data-testid': 'new-key-box' });
    const view = listView(async () =>
      table(
        (await getJson<List<Key>>('/admin/v1/keys?limit=200')).data,
        [
          ['Id', (k) => k.id],
          ['Name', (k) => k.name],
          ['Prefix', (k) => h('code', {}, k.prefix)],
          ['Owner', (k) => k.owner_user_id || ''],
          ['Scopes', (k) => k.scopes.join(', ')],
          ['Models', (k) => k.allowed_models.join(', ')],
          ['Created', (k) => formatTime(k.created_at * 1000)],
          ['Last used', (k) => formatTime(k.last_used_at * 1000)],
          [
            'State',
            (k) =>
              k.revoked_at
                ? 'revoked'
                : button(
                    'Revoke',
                    () => {
                      if (confirm(`Revoke key ${k.prefix} (${k.name})? Callers using it are refused at once.`))
                        void view.act(() => sendJson('DELETE', `/admin/v1/keys?id=${k.id}`));
                    },
                    { 'data-testid': `revoke-${k.id}` },
                  ),
          ],
        ],
        'keys',
      ),
    );
    const name = h('input', { required: true, 'data-testid': 'key-name' });
    const owner = h('input', { type: 'number', min: 1, placeholder: me.user_id ? `user id (you: ${me.user_id})` : 'user id', 'data-testid': 'key-owner' });
    const scopes = h('input', { placeholder: 'e.g. models:use:*', 'data-testid': 'key-scopes' });
    const models = h('input', { placeholder: 'e.g. qwen3-*', 'data-testid': 'key-models' });
    const form = h(
      'form',
      {
        class: 'inline',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const body: Record<string, unknown> = { name: name.value };
          // A key without an owner needs scopes: by default it is the signed-in user's own.
          if (owner.value) body.owner_user_id = Number(owner.value);
          else if (me.user_id) body.owner_user_id = me.user_id;
          if (scopes.value) body.scopes = splitList(scopes.value);
          if (models.value) body.allowed_models = splitList(models.value);
          void view.act(async () => {
            const k = await sendJson<Key & { key: string }>('POST', '/admin/v1/keys', body);
            // The only time the server shows the secret: it is not kept anywhere by the page.
            created.replaceChildren(
              h(
                'div',
                { class: 'secret' },
                h('p', {}, `Key "${k.name}" created. Copy it now: it is shown only once.`),
                h('code', { 'data-testid': 'new-key' }, k.key),
                button('Done', () => created.replaceChildren()),
              ),
            );
            form.reset();
          });
        },
      },
      h('label', {}, 'Name', name),
      h('label', {}, 'Owner', owner),
      h('label', {}, 'Scopes', scopes),
      h('label', {}, 'Models', models),
      h('button', { type: 'submit', 'data-testid': 'key-create' }, 'Create key'),
    );
    root.append(form, created, view.status, view.list);
    void view.reload();
  },
};
