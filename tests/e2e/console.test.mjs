// The web console in a real browser: Debian's chromium driven by playwright-core against a
// `llmux serve` of its own (auth on) serving the built console (LLMUX_CONSOLE_DIR, which CMake
// builds; `npm run build` in web/console builds web/console/dist). It signs in with a password
// and with an API key, visits every page, creates a key (shown once) and revokes it, chats in the
// playground (the streamed text is compared with the same request made by the `openai` npm
// client), finds that chat in the request-log search, and checks that a user without admin
// permissions sees none of the admin pages. A screenshot of each page is kept in
// LLMUX_E2E_ARTIFACTS (ctest: BUILD/test-results/e2e_console/).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';
import { SHARED, startServer } from './server.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const consoleDir = process.env.LLMUX_CONSOLE_DIR || join(repo, 'web/console/dist');
const artifacts = process.env.LLMUX_E2E_ARTIFACTS || join(tmpdir(), 'llmux-e2e-console');
const MODEL = 'stories';
const PROMPT = 'Once upon a time';
const passwords = { ada: `pw-ada-${Math.random()}`, uma: `pw-uma-${Math.random()}` };
const userIds = {};

let server;
let browser;
let page;
let profile;
const shots = [];

async function api(method, path, key, body) {
  const headers = {};
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(server.baseURL + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

// A GET with the path sent exactly as written (fetch and URL would normalise "..").
function rawGet(path) {
  const { hostname, port } = new URL(server.baseURL);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function shot(name) {
  const file = join(artifacts, `console-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

// Opens a page of the console through its navigation and waits for its section.
async function open(path) {
  await page.click(`nav a[data-page="${path}"]`);
  await page.waitForSelector(`[data-testid="page-${path}"]`);
}

async function signInWithPassword(user) {
  await page.goto(`${server.baseURL}/console/login`);
  await page.fill('[data-testid="login-user"]', user);
  await page.fill('[data-testid="login-password"]', passwords[user]);
  await page.click('[data-testid="login-password-submit"]');
  await page.waitForSelector('[data-testid="who"]');
}

async function signOut() {
  await page.click('[data-testid="logout"]');
  await page.waitForSelector('[data-testid="page-login"]');
}

before(async () => {
  assert.ok(existsSync(join(consoleDir, 'index.html')),
    `the console is not built in ${consoleDir}: run npm ci && npm run build in web/console (or build the llmux_console target)`);
  mkdirSync(artifacts, { recursive: true });
  server = await startServer([`${MODEL}=${join(SHARED, 'models/stories260K.gguf')}`], ['--console-dir', consoleDir],
    { auth: true });
  assert.match(server.adminKey ?? '', /^llmux_/, 'the first start prints the admin key');
  for (const [name, roles] of [['ada', ['admin']], ['uma', ['user']]]) {
    const r = await api('POST', '/admin/v1/users', server.adminKey, { name, password: passwords[name], roles });
    assert.equal(r.status, 201, r.text);
    userIds[name] = r.json.id;
  }
  profile = mkdtempSync(join(tmpdir(), 'llmux-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = browser.pages()[0] ?? await browser.newPage();
  page.setDefaultTimeout(20000);
});

after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (server) assert.equal(await server.stop(), 0);
  if (shots.length) console.log(`console screenshots:\n  ${shots.join('\n  ')}`);
});

describe('static files at /console', () => {
  test('the console is public; its routes fall back to index.html; bad paths are 404', async () => {
    const root = await fetch(`${server.baseURL}/console`, { redirect: 'manual' });
    assert.equal(root.status, 308);
    assert.equal(root.headers.get('location'), '/console/');

    const index = await api('GET', '/console/');
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /^text\/html/);
    assert.match(index.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(index.text, readFileSync(join(consoleDir, 'index.html'), 'utf8'));
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(index.text)?.[1];
    assert.ok(script, 'index.html loads a script under /console/assets/');
    const js = await api('GET', script);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    assert.match(js.headers.get('cache-control'), /immutable/);

    const deep = await api('GET', '/console/logs');
    assert.equal(deep.status, 200);
    assert.equal(deep.text, index.text);
    assert.equal((await api('GET', '/console/assets/missing.js')).status, 404);
    for (const bad of ['/console/../admin/v1/users', '/console/assets/../../../etc/passwd', '/console/%2e%2e/x.js',
      '/console/assets//x.js', '/console/.%2e/CMakeLists.txt']) {
      const r = await rawGet(bad);
      assert.notEqual(r.status, 200, bad);
      assert.doesNotMatch(r.body, /root:|add_subdirectory/, bad);
    }
  });

  test('GET /admin/v1/me tells the caller its permissions, and needs credentials', async () => {
    assert.equal((await api('GET', '/admin/v1/me')).status, 401);
    const admin = await api('GET', '/admin/v1/me', server.adminKey);
    assert.equal(admin.status, 200, admin.text);
    assert.deepEqual(admin.json.allows, { 'models:read': true, 'models:manage': true, 'keys:manage': true,
      'users:manage': true, 'logs:read': true, 'metrics:read': true });
    const login = await api('POST', '/auth/login', null, { username: 'uma', password: passwords.uma });
    const uma = await api('GET', '/admin/v1/me', login.json.access_token);
    assert.equal(uma.json.name, 'uma');
    assert.deepEqual(uma.json.permissions, ['models:use:*']);
    assert.ok(Object.values(uma.json.allows).every((v) => v === false), uma.text);
  });
});

describe('the console in chromium', () => {
  test('sign-in page, then a password sign-in shows every admin page', async () => {
    await page.goto(`${server.baseURL}/console/`);
    await page.waitForSelector('[data-testid="page-login"]');
    await shot('login');
    await signInWithPassword('ada');
    assert.equal(await page.textContent('[data-testid="who"]'), 'ada');
    const nav = await page.$$eval('nav a', (as) => as.map((a) => a.getAttribute('data-page')));
    assert.deepEqual(nav, ['dashboard', 'playground', 'models', 'registry', 'served', 'logs', 'users', 'keys', 'roles',
      'audit', 'prompts']);
  });

  test('dashboard: the server history, or a plain "not available" and live /metrics samples', async () => {
    await open('dashboard');
    const history = await api('GET', '/admin/v1/metrics/history?resolution=1s', server.adminKey);
    // Some generation while the page watches, so that the charts have something to show.
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: server.adminKey, maxRetries: 0 });
    let traffic = true;
    const load = (async () => {
      while (traffic) {
        await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: PROMPT }], max_tokens: 32 });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      if (history.status === 404) {
        await page.waitForSelector('[data-testid="dash-not-available"]');
        // Two /metrics samples make the first point of each chart; wait for a few, with tokens.
        await page.waitForFunction(() => {
          const charts = document.querySelector('.charts');
          return Number(charts?.getAttribute('data-points')) >= 4 && Number(charts?.getAttribute('data-peak-tokens-per-s')) > 0;
        }, null, { timeout: 30000 });
      } else {
      assert.equal(history.status, 200, history.text);
        await page.waitForFunction(() => /Server metric history/.test(document.querySelector('[data-testid="dash-source"]')?.textContent ?? ''));
      }
    } finally {
      traffic = false;
      await load;
    }
    assert.equal(await page.locator('.charts .uplot').count(), 5);
    await shot('dashboard');
  });

  test('playground streams the reply the openai client gets for the same request', async () => {
    await open('playground');
    await page.waitForSelector(`[data-testid="chat-model"] option[value="${MODEL}"]`, { state: 'attached' });
    await page.selectOption('[data-testid="chat-model"]', MODEL);
    await page.fill('[data-testid="chat-temperature"]', '0');
    await page.fill('[data-testid="chat-max-tokens"]', '24');
    await page.fill('[data-testid="chat-input"]', PROMPT);
    // Count the SSE chunks the page receives: more than one means it really streamed.
    const response = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'));
    await page.click('[data-testid="chat-send"]');
    await page.waitForSelector('.msg.assistant[data-done="true"]');
    const shown = await page.textContent('[data-testid="chat-reply"]');
    const sse = await (await response).text();
    assert.ok((sse.match(/^data: /gm) ?? []).length > 2, sse);
    assert.match((await response).headers()['content-type'], /^text\/event-stream/);

    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: server.adminKey, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: PROMPT }],
      stream: true, max_tokens: 24, temperature: 0 });
    let expected = '';
    for await (const chunk of stream) expected += chunk.choices[0]?.delta?.content ?? '';
    assert.ok(expected.length > 0);
    assert.equal(shown, expected);
    await shot('playground');
  });

  test('request-log search finds the playground chat; aggregates and CSV', async () => {
    await open('logs');
    await page.fill('[data-testid="logs-model"]', MODEL);
    // The log is written behind the requests: search until the chat shows up.
    for (let i = 0; ; ++i) {
      await page.click('[data-testid="logs-search"]');
      await page.waitForTimeout(300);
      const rows = await page.$$eval('[data-testid="logs"] tbody tr', (trs) => trs.map((tr) => tr.textContent));
      // The playground's chat, made by ada's login (the openai client's one is the admin key's).
      if (rows.some((r) => r.includes('/v1/chat/completions') && r.includes(`user:${userIds.ada}`))) break;
      assert.ok(i < 30, `the chat never showed up in the log: ${rows}`);
    }
    const stats = await page.$$eval('[data-testid="logs-stats"] tbody tr', (trs) => trs.map((tr) => tr.textContent));
    assert.ok(stats.some((r) => r.startsWith(MODEL)), stats.join('\n'));
    const download = page.waitForEvent('download');
    await page.click('[data-testid="logs-csv"]');
    const csv = readFileSync(await (await download).path(), 'utf8');
    assert.match(csv.split('\n')[0], /model/);
    assert.ok(csv.includes('/v1/chat/completions'), csv);
    await shot('logs');
  });

  test('keys: a new key is shown once, works, and stops working once revoked', async () => {
    await open('keys');
    await page.fill('[data-testid="key-name"]', 'made-in-console');
    await page.click('[data-testid="key-create"]');  // owned by the signed-in user (ada)
    const key = (await page.textContent('[data-testid="new-key"]')).trim();
    assert.match(key, /^llmux_[a-z2-7]{12}_[0-9A-Za-z]{43}$/);
    await shot('keys');
    assert.equal((await api('GET', '/v1/models', key)).status, 200);
    const made = (await api('GET', '/admin/v1/keys', server.adminKey)).json.data.find((k) => k.name === 'made-in-console');
    assert.equal(made.owner_user_id, userIds.ada);
    // Shown once: after a reload the secret is nowhere on the page (only its prefix).
    await page.reload();
    await page.waitForSelector('[data-testid="keys"]');
    assert.ok(!(await page.content()).includes(key));
    const row = page.locator('[data-testid="keys"] tbody tr', { hasText: 'made-in-console' });
    page.once('dialog', (d) => d.accept());
    await row.locator('button', { hasText: 'Revoke' }).click();
    await page.locator('[data-testid="keys"] tbody tr', { hasText: 'made-in-console' }).getByText('revoked').waitFor();
    assert.equal((await api('GET', '/v1/models', key)).status, 401);
  });

  test('users, roles, audit, prompt templates and models pages', async () => {
    await open('users');
    await page.waitForSelector('[data-testid="users"] tbody tr');
    const users = await page.textContent('[data-testid="users"]');
    assert.ok(users.includes('ada') && users.includes('uma'), users);
    await shot('users');

    await open('roles');
    await page.fill('[data-testid="role-name"]', 'log-reader');
    await page.fill('[data-testid="role-permissions"]', 'logs:read, metrics:read');
    await page.click('[data-testid="role-save"]');
    await page.locator('[data-testid="roles"] tbody tr', { hasText: 'log-reader' }).waitFor();
    const role = await api('GET', '/admin/v1/roles', server.adminKey);
    assert.deepEqual(role.json.data.find((r) => r.name === 'log-reader')?.permissions, ['logs:read', 'metrics:read']);
    await shot('roles');

    await open('prompts');
    await page.click('[data-testid="prompt-save"]');  // the example template
    await page.locator('[data-testid="prompts"] tbody tr', { hasText: 'summarize' }).waitFor();
    const prompts = await api('GET', '/admin/v1/prompts', server.adminKey);
    assert.equal(prompts.json.data.find((p) => p.name === 'summarize')?.updated_by !== undefined, true);
    await shot('prompts');

    await open('audit');
    await page.waitForSelector('[data-testid="audit"] tbody tr');
    const audit = await page.textContent('[data-testid="audit"]');
    // What this session just did, as the server audited it.
    const events = (await api('GET', '/admin/v1/audit?limit=100', server.adminKey)).json.data;
    for (const action of new Set(events.slice(0, 5).map((e) => e.action))) assert.ok(audit.includes(action), action);
    await shot('audit');

    await open('models');
    await page.waitForSelector('[data-testid="models"] tbody tr');
    assert.ok((await page.textContent('[data-testid="models"]')).includes(MODEL));
    await shot('models');
  });

  test('an API key signs in too', async () => {
    await signOut();
    await page.fill('[data-testid="login-key"]', 'llmux_notakey');
    await page.click('[data-testid="login-key-submit"]');
    await page.waitForSelector('[data-testid="page-login"] .notice.error');
    await page.fill('[data-testid="login-key"]', server.adminKey);
    await page.click('[data-testid="login-key-submit"]');
    await page.waitForSelector('[data-testid="who"]');
    assert.equal(await page.locator('nav a').count(), 11);
    await signOut();
  });

  test('a user without admin permissions sees only the playground and models', async () => {
    await signInWithPassword('uma');
    const nav = await page.$$eval('nav a', (as) => as.map((a) => a.getAttribute('data-page')));
    assert.deepEqual(nav, ['playground', 'models']);
    await page.waitForSelector('[data-testid="page-playground"]');
    await shot('user-home');
    for (const path of ['users', 'keys', 'logs', 'audit', 'roles', 'prompts', 'dashboard', 'registry', 'served']) {
      await page.goto(`${server.baseURL}/console/${path}`);
      await page.waitForSelector('main .notice.error');
      assert.equal(await page.textContent('main .notice.error'), 'You may not use this page.');
      assert.equal(await page.locator(`[data-testid="page-${path}"]`).count(), 0);
    }
    await shot('user-refused');
    await signOut();
  });
});
