// Roles: the built-in ones (read-only) and custom ones (lists of grants): create/replace, delete.
import { getJson, sendJson, type List } from '../api';
import { dangerButton, h, table } from '../dom';
import { listView, needs, type Page } from '../page';

interface Role {
  name: string;
  permissions: string[];
  builtin: boolean;
}

export const rolesPage: Page = {
  path: 'roles',
  title: 'Roles',
  allowed: needs('users:manage'),
  render(root) {
    const view = listView(async () =>
      table(
        (await getJson<List<Role>>('/admin/v1/roles')).data,
        [
          ['Role', (r) => r.name],
          ['Permissions', (r) => r.permissions.map((p) => h('code', {}, p, ' '))],
          [
            '',
            (r) =>
              r.builtin
                ? 'built in'
                : dangerButton('Delete', `Delete role ${r.name}?`, () =>
                    void view.act(() => sendJson('DELETE', `/admin/v1/roles?name=${encodeURIComponent(r.name)}`)),
                  ),
          ],
        ],
        'roles',
      ),
    );
    const name = h('input', { required: true, 'data-testid': 'role-name' });
    const perms = h('input', { placeholder: 'logs:read, models:use:qwen3-*', 'data-testid': 'role-permissions' });
    const form = h(
      'form',
      {
        class: 'inline',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const permissions = perms.value
            .split(',')
            .map((p) => p.trim())
            .filter(Boolean);
          void view.act(async () => {
            await sendJson('PUT', '/admin/v1/roles', { name: name.value, permissions });
            form.reset();
          });
        },
      },
      h('label', {}, 'Name', name),
      h('label', {}, 'Permissions', perms),
      h('button', { type: 'submit', 'data-testid': 'role-save' }, 'Save role'),
    );
    root.append(form, view.status, view.list);
    void view.reload();
  },
};
