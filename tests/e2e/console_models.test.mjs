// The console's model pages in a real browser (Debian's chromium driven by playwright-core)
// against a `llmux serve` of its own (auth on, so with the registry) that serves "m" from a
// random-weight Qwen3 file. Through the pages an admin registers two versions of "m" and tags
// them, pulls stories260K from a throttled node:http server in this test while the progress bar
// must show a value between 0 and the total, edits m's default parameters and rolls the change
// back, loads and unloads a registry version, and hot-updates "m" to its other version while
// `openai` clients stream chat completions in a loop (none may fail), then moves m:latest (which
// "m" refers to) to version a from the registry page under the same load. Every change is checked
// through the admin API, digests against node:crypto's SHA-256 of the files. A user whose only
// grant is models:read sees the registry and no control that changes it. Screenshots of each
// page go to LLMUX_E2E_ARTIFACTS (ctest: BUILD/test-results/e2e_console_models/).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';
import { BIN, SHARED, startServer } from './server.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const consoleDir = process.env.LLMUX_CONSOLE_DIR || join(repo, 'web/console/dist');
const artifacts = process.env.LLMUX_E2E_ARTIFACTS || join(tmpdir(), 'llmux-e2e-console-models');
const root = mkdtempSync(join(tmpdir(), 'llmux-e2e-console-models-'));
const passwords = { ada: `pw-ada-${Math.random()}`, rita: `pw-rita-${Math.random()}` };
const source = readFileSync(join(SHARED, 'models/stories260K.gguf'));
const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

let server, admin, files, filesURL, browser, page, profile;
const shots = [];

function makeModel(seed) {
  const out = join(root, `m-${seed}.gguf`);
  execFileSync(BIN, ['model', 'create', '--arch', 'qwen3', '--hidden', '64', '--layers', '2',
    '--heads', '2', '--kv-heads', '1', '--head-dim', '32', '--ffn', '128', '--type', 'q8_0',
    '--vocab-from', join(SHARED, 'models/qwen3-vocab.gguf'), '--seed', String(seed), '--out', out]);
  return out;
}
// The seeds hot_update.test.mjs uses: two versions known to answer differently.
const fileA = makeModel(21);
const fileB = makeModel(22);
const digestA = sha256(readFileSync(fileA));
const digestB = sha256(readFileSync(fileB));

// Serves stories260K in 24 pieces 60 ms apart (about 1.4 s), so that a pull's progress has
// time to show.
function serveSlowly(req, res) {
  res.writeHead(200, { 'Content-Length': source.length, 'Content-Type': 'application/octet-stream' });
  const pieces = 24;
  const size = Math.ceil(source.length / pieces);
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    const part = source.subarray(i * size, (i + 1) * size);
    ++i;
    if (i >= pieces) return res.end(part);
    res.write(part);
    setTimeout(next, 60);
  };
  next();
}

async function api(method, path, key, body) {
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(server.baseURL + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, text, json };
}

const registryModel = async (name) => (await api('GET', `/admin/v1/registry/models?name=${name}`, admin)).json;
const served = async () => (await api('GET', '/admin/v1/models', admin)).json.models;

// Polls `probe` until it returns a truthy value (the console's changes land asynchronously).
async function until(probe, what, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function shot(name) {
  const file = join(artifacts, `console-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

async function open(path) {
  await page.click(`nav a[data-page="${path}"]`);
  await page.waitForSelector(`[data-testid="page-${path}"]`);
}

async function openModel(name) {
  await page.click(`[data-testid="registry-open-${name}"]`);
  await page.waitForSelector(`[data-testid="registry-model"][data-model="${name}"] [data-testid="history"]`);
}

async function signIn(user) {
  await page.goto(`${server.baseURL}/console/login`);
  await page.fill('[data-testid="login-user"]', user);
  await page.fill('[data-testid="login-password"]', passwords[user]);
  await page.click('[data-testid="login-password-submit"]');
  await page.waitForSelector('[data-testid="who"]');
}

const request = { model: 'm', messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 24, temperature: 0 };

async function streamOnce(client) {
  let text = '';
  let finish = null;
  for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
    const c = chunk.choices[0];
    if (c?.delta?.content) text += c.delta.content;
    if (c?.finish_reason) finish = c.finish_reason;
  }
  return { text, finish };
}

before(async () => {
  assert.ok(existsSync(join(consoleDir, 'index.html')), `the console is not built in ${consoleDir}`);
  mkdirSync(artifacts, { recursive: true });
  files = createServer(serveSlowly);
  await new Promise((r) => files.listen(0, '127.0.0.1', r));
  filesURL = `http://127.0.0.1:${files.address().port}`;
  server = await startServer([`m=${fileA}`], ['--console-dir', consoleDir], { auth: true, dataDir: join(root, 'data') });
  admin = server.adminKey;
  let r = await api('PUT', '/admin/v1/roles', admin, { name: 'model-reader', permissions: ['models:read'] });
  assert.ok(r.status < 300, r.text);
  for (const [name, roles] of [['ada', ['admin']], ['rita', ['model-reader']]]) {
    r = await api('POST', '/admin/v1/users', admin, { name, password: passwords[name], roles });
    assert.equal(r.status, 201, r.text);
  }
  profile = mkdtempSync(join(tmpdir(), 'llmux-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = browser.pages()[0] ?? await browser.newPage();
  page.setDefaultTimeout(20000);
  page.on('dialog', (d) => d.accept());  // the confirmations of deletes and unloads
});

after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (server) assert.equal(await server.stop(), 0);
  files?.closeAllConnections?.();
  files?.close();
  rmSync(root, { recursive: true, force: true });
  if (shots.length) console.log(`console screenshots:\n  ${shots.join('\n  ')}`);
});

// What the page showed when a test failed.
afterEach(async (t) => {
  if (page && t.passed === false) await shot(`failed-${shots.length}`).catch(() => undefined);
});

describe('the console\'s model pages', () => {
  test('registry: register two versions, tag one, delete the tag', async () => {
    await signIn('ada');
    await open('registry');
    for (const [file, tag] of [[fileA, 'a'], [fileB, 'b']]) {
      await page.fill('[data-testid="register-path"]', file);
      await page.fill('[data-testid="register-model"]', 'm');
      await page.fill('[data-testid="register-tag"]', tag);
      await page.click('[data-testid="register-save"]');
      await until(async () => (await registryModel('m'))?.tags?.some((t) => t.name === tag), `tag ${tag}`);
      // The list shows it once the page is done with the form (it is reset before the reload).
      await page.locator('[data-testid="registry"] tbody tr', { hasText: `${tag} → ` }).waitFor();
    }
    const m = await registryModel('m');
    assert.deepEqual(m.versions.map((v) => v.digest).sort(), [digestA, digestB].sort());
    assert.equal(m.tags.find((t) => t.name === 'a').digest, digestA);
    assert.equal(m.tags.find((t) => t.name === 'b').digest, digestB);

    await openModel('m');
    assert.equal(await page.locator('[data-testid="versions"] tbody tr').count(), 2);
    await page.fill('[data-testid="tag-name"]', 'stable');
    await page.selectOption('[data-testid="tag-version"]', digestB);
    await page.click('[data-testid="tag-save"]');
    await until(async () => (await registryModel('m')).tags.find((t) => t.name === 'stable')?.digest === digestB, 'tag stable');
    await page.waitForSelector('[data-testid="tag-delete-stable"]');
    await shot('registry-model');
    await page.click('[data-testid="tag-delete-stable"]');
    await until(async () => !(await registryModel('m')).tags.some((t) => t.name === 'stable'), 'tag stable removed');
  });

  test('pull: the progress bar moves while the download streams, then the version is registered', async () => {
    await open('registry');
    await page.fill('[data-testid="pull-url"]', `${filesURL}/slow/stories260K.gguf`);
    await page.fill('[data-testid="pull-name"]', 'stories:pulled');
    await page.click('[data-testid="pull-start"]');
    // Polled at every frame: the bar must be seen part-way, with the file's size as its total.
    const partial = await page.waitForFunction(() => {
      const bar = document.querySelector('[data-testid="pull-progress"]');
      return bar && bar.max > 1 && bar.value > 0 && bar.value < bar.max ? { value: bar.value, max: bar.max } : null;
    }, null, { polling: 'raf', timeout: 20000 });
    const seen = await partial.jsonValue();
    assert.equal(seen.max, source.length);
    assert.ok(seen.value > 0 && seen.value < source.length, JSON.stringify(seen));
    await shot('pull-progress');
    await page.waitForSelector('[data-testid="pull-done"]');
    const bar = await page.$eval('[data-testid="pull-progress"]', (b) => ({ value: b.value, max: b.max }));
    assert.deepEqual(bar, { value: source.length, max: source.length });
    const stories = await registryModel('stories');
    assert.equal(stories.tags.find((t) => t.name === 'pulled')?.digest, sha256(source));
    await page.locator('[data-testid="registry"] tbody tr', { hasText: 'stories' }).waitFor();
    await shot('registry');
  });

  test('parameters: an edit is stored, shows in the history, and rolls back', async () => {
    const before = (await registryModel('m')).parameters;
    await openModel('m');
    await page.fill('[data-testid="param-temperature"]', '0.25');
    await page.fill('[data-testid="param-max_tokens"]', '7');
    await page.click('[data-testid="params-save"]');
    await until(async () => (await registryModel('m')).parameters.temperature === 0.25, 'the parameter change');
    assert.deepEqual((await registryModel('m')).parameters, { ...before, temperature: 0.25, max_tokens: 7 });
    const change = (await api('GET', '/admin/v1/registry/history?model=m&limit=1', admin)).json.data[0];
    assert.equal(change.kind, 'parameters.set');
    assert.equal(change.actor_name, 'ada');
    await page.click(`[data-testid="rollback-${change.id}"]`);
    await until(async () => (await registryModel('m')).parameters.temperature === undefined, 'the rollback');
    assert.deepEqual((await registryModel('m')).parameters, before);
    await page.locator('[data-testid="history"] tbody tr', { hasText: `rollback of ${change.id}` }).waitFor();
    await shot('registry-history');
  });

  test('served models: state and memory, load and unload a registry version', async () => {
    await open('served');
    // Loaded, or idle between requests: serving either way.
    await page.locator('[data-testid="served"] tbody tr', { hasText: fileA }).locator('[data-state="loaded"], [data-state="idle"]').waitFor();
    const m = (await served()).find((s) => s.name === 'm');
    assert.ok(m.memory_bytes > 0);
    assert.ok(['loaded', 'idle'].includes(m.state), m.state);
    await page.fill('[data-testid="load-name"]', 'stories2');
    await page.fill('[data-testid="load-ref"]', 'stories:pulled');
    await page.click('[data-testid="load-submit"]');
    await page.waitForSelector('[data-testid="served-ok"]');
    assert.ok(['loaded', 'idle'].includes((await served()).find((s) => s.name === 'stories2')?.state));
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: admin, maxRetries: 0 });
    const reply = await client.completions.create({ model: 'stories2', prompt: 'Once upon a time', max_tokens: 8 });
    assert.ok(reply.choices[0].text.length > 0);
    await page.locator('[data-testid="served"] tbody tr', { hasText: 'stories2' }).waitFor();
    await shot('served');
    await page.click('[data-testid="unload-stories2"]');
    await until(async () => !(await served()).some((s) => s.name === 'stories2'), 'the unload');
  });

  test('hot update from the console under streaming load fails no request; a bad ref shows why', async () => {
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: admin, maxRetries: 0 });
    const a = await streamOnce(client);
    let stop = false;
    const results = [];
    const failures = [];
    const worker = async () => {
      while (!stop) {
        try {
          results.push(await streamOnce(client));
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await new Promise((r) => setTimeout(r, 600));
    await page.fill('[data-testid="update-name"]', 'm');
    await page.fill('[data-testid="update-ref"]', 'm:b');
    await page.click('[data-testid="update-submit"]');
    await page.waitForSelector('[data-testid="served-ok"]:has-text("Update m to m:b")');
    await new Promise((r) => setTimeout(r, 800));
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(failures, []);
    assert.ok(results.length >= 6, `only ${results.length} answers`);
    for (const r of results) assert.ok(r.finish === 'length' || r.finish === 'stop', JSON.stringify(r));
    assert.equal((await served()).find((s) => s.name === 'm').path, fileB);
    // The page names the registry version m now serves.
    await page.locator('[data-testid="served"] tbody tr', { hasText: fileB }).getByText('m:b').waitFor();
    const b = await streamOnce(client);
    assert.notEqual(b.text, a.text, 'after the update, m answers as version b');

    await page.fill('[data-testid="update-name"]', 'm');
    await page.fill('[data-testid="update-ref"]', 'm:nope');
    await page.click('[data-testid="update-submit"]');
    const error = await page.waitForSelector('[data-testid="served-result"] .notice.error');
    assert.match(await error.textContent(), /no tag 'nope'/);
    assert.equal((await served()).find((s) => s.name === 'm').path, fileB, 'a failed update changes nothing');
    await shot('served-update');
  });

  test('moving a tag from the registry page under streaming load fails no request; the served model follows', async () => {
    // "m" refers to m:latest (there is none yet); it serves version b since the hot update above.
    assert.equal((await served()).find((s) => s.name === 'm').path, fileB);
    const client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: admin, maxRetries: 0 });
    const b = await streamOnce(client);
    let stop = false;
    const results = [];
    const failures = [];
    const worker = async () => {
      while (!stop) {
        try {
          results.push(await streamOnce(client));
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    await open('registry');
    await openModel('m');
    const workers = Array.from({ length: 4 }, worker);
    await new Promise((r) => setTimeout(r, 600));
    await page.fill('[data-testid="tag-name"]', 'latest');
    await page.selectOption('[data-testid="tag-version"]', digestA);
    await page.click('[data-testid="tag-save"]');
    // The page lists the served names the move updated, each with what it serves now.
    const updated = await page.waitForSelector('[data-testid="tag-updated-m"]');
    const said = await updated.textContent();
    assert.ok(said.includes(`m now serves ${fileA}`), said);
    await new Promise((r) => setTimeout(r, 800));
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(failures, []);
    assert.ok(results.length >= 6, `only ${results.length} answers`);
    for (const r of results) assert.ok(r.finish === 'length' || r.finish === 'stop', JSON.stringify(r));
    assert.equal((await registryModel('m')).tags.find((t) => t.name === 'latest')?.digest, digestA);
    assert.equal((await served()).find((s) => s.name === 'm').path, fileA);
    const a = await streamOnce(client);
    assert.notEqual(a.text, b.text, 'after the move, m answers as version a');
    // The move is in the history, by ada.
    const change = (await api('GET', '/admin/v1/registry/history?model=m&limit=1', admin)).json.data[0];
    assert.equal(change.kind, 'tag.set');
    assert.equal(change.actor_name, 'ada');
    await page.locator('[data-testid="tags"] tbody tr', { hasText: 'm:latest' }).waitFor();
    await shot('registry-tag-move');
  });

  test('a user with only models:read sees the registry and no control that changes it', async () => {
    await page.click('[data-testid="logout"]');
    await page.waitForSelector('[data-testid="page-login"]');
    await signIn('rita');
    const nav = await page.$$eval('nav a', (as) => as.map((a) => a.getAttribute('data-page')));
    assert.deepEqual(nav, ['playground', 'models', 'registry']);
    await open('registry');
    await page.locator('[data-testid="registry"] tbody tr', { hasText: 'stories' }).waitFor();
    await openModel('m');
    await page.waitForSelector('[data-testid="versions"] tbody tr');
    for (const control of ['pull', 'register-save', 'tag-save', 'params-save']) {
      assert.equal(await page.locator(`[data-testid="${control}"]`).count(), 0, control);
    }
    assert.equal(await page.locator('[data-testid^="rollback-"]').count(), 0);
    assert.equal(await page.locator('button.danger').count(), 0);
    assert.ok(await page.locator('[data-testid="history"] tbody tr').count() > 0, 'the history is readable');
    assert.equal(await page.inputValue('[data-testid="param-temperature"]'), '');
    assert.ok(await page.isDisabled('[data-testid="param-temperature"]'));
    await shot('registry-read-only');
    await page.goto(`${server.baseURL}/console/served`);
    await page.waitForSelector('main .notice.error');
    assert.equal(await page.textContent('main .notice.error'), 'You may not use this page.');
    // The server agrees: reading is allowed, changing is not.
    const login = await (await fetch(`${server.baseURL}/auth/login`, { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'rita', password: passwords.rita }) })).json();
    assert.equal((await api('GET', '/admin/v1/registry/models', login.access_token)).status, 200);
    assert.equal((await api('POST', '/admin/v1/models/unload', login.access_token, { name: 'm' })).status, 403);
  });
});
