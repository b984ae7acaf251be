// Users: list, create, enable/disable, change roles, delete.
import { getJson, sendJson, type List } from '../api';
import { clear, formatTime, h, notice, table } from '../dom';
import { needs, type Page } from '../page';

interface User {
  id: number;
  name: string;
  roles: string[];
  disabled: boolean;
  created_at: number;
}

const splitList = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export const usersPage: Page = {
  path: 'users',
  title: 'Users',
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
        const users = await getJson<List<User>>('/admin/v1/users?limit=200');
        clear(list);
        list.append(
          table(
            users.data,
            [
              ['Id', (u) => u.id],
              ['Name', (u) => u.name],
              ['Roles', (u) => u.roles.join(', ')],
              ['Created', (u) => formatTime(u.created_at * 1000)],
              ['State', (u) => (u.disabled ? 'disabled' : 'active')],
              [
                '',
                (u) => [
                  h(
                    'button',
                    {
                      type: 'button',
                      onclick: () => act(() => sendJson('PATCH', `/admin/v1/users?id=${u.id}`, { disabled: !u.disabled })),
                    },
                    u.disabled ? 'Enable' : 'Disable',
                  ),
                  h(
                    'button',
                    {
                      type: 'button',
                      onclick: () => {
                        const roles = prompt(`Roles of ${u.name} (comma-separated)`, u.roles.join(', '));
                        if (roles !== null) void act(() => sendJson('PATCH', `/admin/v1/users?id=${u.id}`, { roles: splitList(roles) }));
                      },
                    },
                    'Roles…',
                  ),
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'danger',
                      onclick: () => {
                        if (confirm(`Delete user ${u.name}?`)) void act(() => sendJson('DELETE', `/admin/v1/users?id=${u.id}`));
                      },
                    },
                    'Delete',
                  ),
                ],
              ],
            ],
            'users',
          ),
        );
      } catch (e) {
        status.replaceChildren(notice((e as Error).message, 'error'));
      }
    };
    const name = h('input', { required: true, 'data-testid': 'user-name' });
    const password = h('input', { type: 'password', autocomplete: 'new-password', 'data-testid': 'user-password' });
    const roles = h('input', { value: 'user', 'data-testid': 'user-roles' });
    const form = h(
      'form',
      {
        class: 'inline',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const body: Record<string, unknown> = { name: name.value, roles: splitList(roles.value) };
          if (password.value) body.password = password.value;
          void act(async () => {
            await sendJson('POST', '/admin/v1/users', body);
            form.reset();
          });
        },
      },
      h('label', {}, 'Name', name),
      h('label', {}, 'Password', password),
      h('label', {}, 'Roles', roles),
      h('button', { type: 'submit', 'data-testid': 'user-create' }, 'Create user'),
    );
    root.append(form, status, list);
    void load();
  },
};
