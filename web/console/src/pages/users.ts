// Users: list, create, enable/disable, change roles, delete.
import { getJson, sendJson, type List } from '../api';
import { button, dangerButton, formatTime, h, table } from '../dom';
import { listView, needs, type Page } from '../page';

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
    const patch = (u: User, body: unknown) => view.act(() => sendJson('PATCH', `/admin/v1/users?id=${u.id}`, body));
    const view = listView(async () =>
      table(
        (await getJson<List<User>>('/admin/v1/users?limit=200')).data,
        [
          ['Id', (u) => u.id],
          ['Name', (u) => u.name],
          ['Roles', (u) => u.roles.join(', ')],
          ['Created', (u) => formatTime(u.created_at * 1000)],
          ['State', (u) => (u.disabled ? 'disabled' : 'active')],
          [
            '',
            (u) => [
              button(u.disabled ? 'Enable' : 'Disable', () => void patch(u, { disabled: !u.disabled })),
              button('Roles…', () => {
                const roles = prompt(`Roles of ${u.name} (comma-separated)`, u.roles.join(', '));
                if (roles !== null) void patch(u, { roles: splitList(roles) });
              }),
              dangerButton('Delete', `Delete user ${u.name}?`, () => void view.act(() => sendJson('DELETE', `/admin/v1/users?id=${u.id}`))),
            ],
          ],
        ],
        'users',
      ),
    );
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
          void view.act(async () => {
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
    root.append(form, view.status, view.list);
    void view.reload();
  },
};
