// The console's shell: sign-in, the navigation (only the pages the caller may use) and a small
// router over history.pushState, so that /console/logs etc. are real addresses (llmux answers
// them with index.html).
import './style.css';
import { ApiError, loadSession, logout, me, type Me } from './api';
import { clear, h, notice } from './dom';
import type { Page } from './page';
import { renderLogin } from './pages/login';
import { auditPage } from './pages/audit';
import { dashboardPage } from './pages/dashboard';
import { keysPage } from './pages/keys';
import { logsPage } from './pages/logs';
import { modelsPage } from './pages/models';
import { registryPage } from './pages/models/registry';
import { servedPage } from './pages/models/served';
import { playgroundPage } from './pages/playground';
import { promptsPage } from './pages/prompts';
import { rolesPage } from './pages/roles';
import { usersPage } from './pages/users';

const BASE = '/console/';
const pages: Page[] = [
  dashboardPage,
  playgroundPage,
  modelsPage,
  registryPage,
  servedPage,
  logsPage,
  usersPage,
  keysPage,
  rolesPage,
  auditPage,
  promptsPage,
];

const app = document.getElementById('app')!;
let stopPage: (() => void) | null = null;

function currentPath(): string {
  const p = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '';
  return p.replace(/\/$/, '');
}

export function navigate(path: string): void {
  history.pushState(null, '', BASE + path);
  void route();
}

function nav(visible: Page[], active: string, who: Me): HTMLElement {
  return h(
    'nav',
    {},
    h('span', { class: 'brand' }, 'llmux'),
    visible.map((p) =>
      h(
        'a',
        {
          href: BASE + p.path,
          class: p.path === active ? 'active' : undefined,
          'data-page': p.path,
          onclick: (e: Event) => {
            e.preventDefault();
            navigate(p.path);
          },
        },
        p.title,
      ),
    ),
    h(
      'span',
      { class: 'who' },
      h('span', { 'data-testid': 'who' }, who.name || who.subject),
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'logout',
          onclick: async () => {
            await logout();
            navigate('login');
          },
        },
        'Sign out',
      ),
    ),
  );
}

async function route(): Promise<void> {
  stopPage?.();
  stopPage = null;
  clear(app);
  const path = currentPath();
  if (path === 'login' || !loadSession()) {
    // With authentication off every call is allowed: try without credentials first.
    if (path !== 'login') {
      try {
        const anonymous = await me();
        return show(anonymous, path);
      } catch {
        /* sign-in needed */
      }
    }
    renderLogin(app, () => navigate(''));
    return;
  }
  let who: Me;
  try {
    who = await me();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      await logout();
      renderLogin(app, () => navigate(''), 'Your session ended: sign in again.');
      return;
    }
    app.append(notice(`The server did not answer: ${(e as Error).message}`, 'error'));
    return;
  }
  show(who, path);
}

function show(who: Me, path: string): void {
  const visible = pages.filter((p) => p.allowed(who));
  const page = visible.find((p) => p.path === path) ?? (path === '' ? visible[0] : undefined);
  const main = h('main', {});
  app.append(nav(visible, page?.path ?? '', who), main);
  if (!page) {
    const known = pages.some((p) => p.path === path);
    main.append(notice(known ? 'You may not use this page.' : 'No such page.', 'error'));
    return;
  }
  document.title = `${page.title} · llmux console`;
  main.append(h('h1', {}, page.title));
  const body = h('section', { 'data-testid': `page-${page.path}` });
  main.append(body);
  stopPage = page.render(body, who) || null;
}

window.addEventListener('popstate', () => void route());
void route();
