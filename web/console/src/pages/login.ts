// Sign-in: a user's password (POST /auth/login) or an API key pasted as is.
import { loginWithKey, loginWithPassword, me, saveSession } from '../api';
import { h, notice } from '../dom';

export function renderLogin(root: HTMLElement, done: () => void, message?: string): void {
  const status = h('div', {});
  if (message) status.append(notice(message));
  const fail = (e: unknown) => {
    status.replaceChildren(notice((e as Error).message, 'error'));
  };
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, 'data-testid': 'login-user' });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'data-testid': 'login-password',
  });
  const key = h('input', {
    name: 'api-key',
    type: 'password',
    autocomplete: 'off',
    placeholder: 'llmux_…',
    required: true,
    'data-testid': 'login-key',
  });
  const passwordForm = h(
    'form',
    {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          await loginWithPassword(user.value, password.value);
          done();
        } catch (err) {
          fail(err);
        }
      },
    },
    h('h2', {}, 'User and password'),
    h('label', {}, 'User', user),
    h('label', {}, 'Password', password),
    h('button', { type: 'submit', 'data-testid': 'login-password-submit' }, 'Sign in'),
  );
  const keyForm = h(
    'form',
    {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        loginWithKey(key.value);
        try {
          await me(); // checks the key before showing anything
          done();
        } catch (err) {
          saveSession(null);
          fail(err);
        }
      },
    },
    h('h2', {}, 'API key'),
    h('label', {}, 'Key', key),
    h('button', { type: 'submit', 'data-testid': 'login-key-submit' }, 'Sign in with key'),
  );
  root.append(
    h('main', { class: 'login', 'data-testid': 'page-login' }, h('h1', {}, 'llmux console'), status, h('div', { class: 'cols' }, passwordForm, keyForm)),
  );
}
