// Roles: the built-in ones (read-only) and custom ones (lists of grants): create/replace, delete.
import { getJson, sendJson, type List } from '../api';
import { clear, h, notice, table } from '../dom';
import { needs, type Page } from '../page';

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
    const list = h('div', {});
    const status = h('div', {});
    const act = async (what: () => Promise<unknown>) => {
      try {
        await what();
        status.replaceChildren();
        await load();
      } catch (e) {
        status.replaceChildren(notice((e as Error).message, 'error'));
      }
    };
    const load = async () => {
      try {
        const roles = await getJson<List<Role>>('/admin/v1/roles');
        clear(list);
        list.append(
          table(
            roles.data,
            [
              ['Role', (r) => r.name],
              ['Permissions', (r) => r.permissions.map((p) => h('code', {}, p, ' '))],
              [
                '',
                (r) =>
                  r.builtin
                    ? 'built in'
                    : h(
                        'button',
                        {
                          type: 'button',
                          class: 'danger',
                          onclick: () => {
                            if (confirm(`Delete role ${r.name}?`))
                              void act(() => sendJson('DELETE', `/admin/v1/roles?name=${encodeURIComponent(r.name)}`));
                          },
                        },
                        'Delete',
                      ),
              ],
            ],
            'roles',
          ),
        );
      } catch (e) {
        status.replaceChildren(notice((e as Error).message, 'error'));
      }
    };
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
          void act(async () => {
            await sendJson('PUT', '/admin/v1/roles', { name: name.value, permissions });
            form.reset();
          });
        },
      },
      h('label', {}, 'Name', name),
      h('label', {}, 'Permissions', perms),
      h('button', { type: 'submit', 'data-testid': 'role-save' }, 'Save role'),
    );
    root.append(form, status, list);
    void load();
  },
};
