// Model pulls end to end: a node:http file server in this test serves a copy of stories260K.gguf
// with byte ranges and drops the first connection halfway; `llmux serve` (auth on) pulls it
// through POST /admin/v1/models/pull (NDJSON progress) and through Ollama's /api/pull with the
// npm `ollama` client. Progress must be monotonic and reach the total, the last line "success",
// and the stored blob's SHA-256 (node:crypto) must equal the source's. A caller without
// models:manage gets 403; a second pull of a URL being pulled gets 409; a name that is not a
// URL gets 400. A local path is copied only from a directory given with --pull-local-dir.
// `llmux model pull` resumes the same way and prints the digest and the blob's path.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BIN, SHARED, startServer } from './server.mjs';

const source = readFileSync(join(SHARED, 'models/stories260K.gguf'));
const sourceHex = createHash('sha256').update(source).digest('hex');
const dataRoot = mkdtempSync(join(tmpdir(), 'llmux-e2e-pull-'));
let server;
let admin;
let userKey;
let files;        // the node:http file server
let filesURL;
const seen = [];  // {path, range} of every request the file server got
const dropped = new Set();  // paths whose first body was cut already
let releaseStall = null;

// Serves `source` at any path with Range support. The first GET of a path under /drop/ is cut
// after half its body; a GET of /stall/ sends half and then waits until released.
function serveFiles(req, res) {
  const path = req.url;
  const range = req.headers.range ?? '';
  seen.push({ path, range });
  let start = 0;
  const m = /^bytes=(\d+)-$/.exec(range);
  if (m) start = Number(m[1]);
  const part = source.subarray(start);
  const headers = { 'Content-Length': part.length, 'Content-Type': 'application/octet-stream' };
  if (start > 0) {
    headers['Content-Range'] = `bytes ${start}-${source.length - 1}/${source.length}`;
    res.writeHead(206, headers);
  } else {
    res.writeHead(200, headers);
  }
  if (path.startsWith('/drop/') && !dropped.has(path)) {
    dropped.add(path);
    res.write(part.subarray(0, Math.floor(part.length / 2)), () => setTimeout(() => req.socket.destroy(), 20));
    return;
  }
  if (path.startsWith('/stall/')) {
    res.write(part.subarray(0, Math.floor(part.length / 2)));
    releaseStall = () => res.end(part.subarray(Math.floor(part.length / 2)));
    return;
  }
  res.end(part);
}

async function post(path, key, body) {
  return fetch(server.baseURL + path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function sha256File(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function checkProgress(lines) {
  const progress = lines.filter((l) => l.total > 0);
  assert.ok(progress.length >= 2, JSON.stringify(lines));
  for (let i = 1; i < progress.length; ++i) {
    assert.ok(progress[i].completed >= progress[i - 1].completed, `completed went back: ${JSON.stringify(progress)}`);
  }
  const last = progress[progress.length - 1];
  assert.equal(last.completed, last.total);
  assert.equal(last.total, source.length);
}

before(async () => {
  files = createServer(serveFiles);
  await new Promise((r) => files.listen(0, '127.0.0.1', r));
  filesURL = `http://127.0.0.1:${files.address().port}`;
  server = await startServer([`stories=${join(SHARED, 'models/stories260K.gguf')}`],
    ['--pull-local-dir', join(SHARED, 'models')], { auth: true, dataDir: join(dataRoot, 'data') });
  admin = server.adminKey;
  const u = await (await post('/admin/v1/users', admin, { name: 'uma', password: 'pw-uma-1234567', roles: ['user'] })).json();
  const k = await (await post('/admin/v1/keys', admin, { owner_user_id: u.id, name: 'uma-key' })).json();
  userKey = k.key;
});
after(async () => {
  if (server) await server.stop();
  releaseStall?.();
  files?.closeAllConnections?.();
  files?.close();
  rmSync(dataRoot, { recursive: true, force: true });
});

describe('model pull', () => {
  test('the admin route streams progress, resumes after a drop and stores the blob by digest', async () => {
    const url = `${filesURL}/drop/stories.gguf?token=not-echoed`;
    const r = await post('/admin/v1/models/pull', admin, { url, name: 'stories:v1' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /ndjson/);
    const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].status, 'pulling manifest');
    const last = lines[lines.length - 1];
    assert.equal(last.status, 'success', JSON.stringify(last));
    assert.ok(lines.some((l) => l.status === 'verifying sha256 digest'));
    checkProgress(lines);
    assert.equal(last.digest, `sha256:${sourceHex}`);
    assert.equal(last.size, source.length);
    assert.equal(last.name, 'stories:v1');
    assert.ok(last.path.endsWith(`/blobs/sha256-${sourceHex}`), last.path);
    assert.equal(sha256File(last.path), sourceHex);
    // The connection was cut halfway, and the rest came by a range request.
    const gets = seen.filter((s) => s.path.startsWith('/drop/stories.gguf'));
    assert.equal(gets.length, 2, JSON.stringify(gets));
    assert.equal(gets[0].range, '');
    assert.match(gets[1].range, /^bytes=[1-9]\d*-$/);
    assert.ok(!JSON.stringify(lines).includes('not-echoed'));
    // The pull named "stories:v1": the registry has the blob as a version, tagged v1, by this key.
    const reg = await fetch(`${server.baseURL}/admin/v1/registry/resolve?ref=stories:v1`,
      { headers: { Authorization: `Bearer ${admin}` } });
    assert.equal(reg.status, 200);
    const version = await reg.json();
    assert.equal(version.digest, `sha256:${sourceHex}`);
    assert.equal(version.path, last.path);
    assert.equal(version.size_bytes, source.length);
    const history = await (await fetch(`${server.baseURL}/admin/v1/registry/history?model=stories`,
      { headers: { Authorization: `Bearer ${admin}` } })).json();
    assert.ok(history.data.some((c) => c.kind === 'version.register'), JSON.stringify(history));
  });

  test('the ollama client pulls with streamed progress, and with stream false', async () => {
    const client = new Ollama({ host: server.baseURL, headers: { Authorization: `Bearer ${admin}` } });
    const url = `${filesURL}/drop/ollama/stories.gguf`;
    const lines = [];
    for await (const p of await client.pull({ model: url, stream: true })) lines.push(p);
    assert.equal(lines[lines.length - 1].status, 'success', JSON.stringify(lines));
    checkProgress(lines);
    assert.equal(lines[lines.length - 1].digest, `sha256:${sourceHex}`);
    assert.equal(sha256File(join(dataRoot, 'data', 'models', 'blobs', `sha256-${sourceHex}`)), sourceHex);
    const gets = seen.filter((s) => s.path === '/drop/ollama/stories.gguf');
    assert.equal(gets.length, 2, JSON.stringify(gets));
    assert.match(gets[1].range, /^bytes=[1-9]\d*-$/);
    // A URL that names the digest: checked (and here already, so nothing is fetched).
    const whole = await client.pull({ model: `${filesURL}/plain/v2/blobs/sha256:${sourceHex}`, stream: false });
    assert.equal(whole.status, 'success');
    const other = 'cd'.repeat(32);
    await assert.rejects(client.pull({ model: `${filesURL}/plain/v2/blobs/sha256:${other}`, stream: false }), (e) => {
      assert.match(e.message, /digest mismatch/);
      return true;
    });
    // A name is not a URL: llmux has no registry to look it up in.
    await assert.rejects(client.pull({ model: 'llama3.2', stream: true }), (e) => {
      assert.equal(e.status_code, 400);
      assert.match(e.message, /URL/);
      return true;
    });
  });

  test('a wrong digest fails the pull with an error line and stores nothing under it', async () => {
    const wrong = 'ab'.repeat(32);
    const r = await post('/admin/v1/models/pull', admin, { url: `${filesURL}/plain/wrong.gguf`, sha256: wrong });
    const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.match(lines[lines.length - 1].error, /digest mismatch/);
    await assert.rejects(() => import('node:fs').then((fs) => fs.promises.stat(join(dataRoot, 'data', 'models', 'blobs', `sha256-${wrong}`))));
  });

  test('a second pull of the same URL is 409 while the first runs', async () => {
    const url = `${filesURL}/stall/stories.gguf`;
    const first = post('/admin/v1/models/pull', admin, { url });
    for (let i = 0; i < 100 && !releaseStall; ++i) await new Promise((r) => setTimeout(r, 50));
    assert.ok(releaseStall, 'the first pull never reached the file server');
    const second = await post('/admin/v1/models/pull', admin, { url });
    assert.equal(second.status, 409);
    const ollama = await post('/api/pull', admin, { model: url, stream: false });
    assert.equal(ollama.status, 409);
    assert.equal(typeof (await ollama.json()).error, 'string');
    // Meanwhile the pull is a "downloading" entry of /admin/v1/models, with its progress.
    const listed = async () => {
      const r = await fetch(`${server.baseURL}/admin/v1/models`, { headers: { Authorization: `Bearer ${admin}` } });
      assert.equal(r.status, 200);
      return (await r.json()).models.filter((m) => m.state === 'downloading');
    };
    let downloading = [];
    for (let i = 0; i < 100; ++i) {
      downloading = await listed();
      if (downloading.length === 1 && downloading[0].completed > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(downloading.length, 1, JSON.stringify(downloading));
    assert.equal(downloading[0].source, url);
    assert.equal(downloading[0].name, url);
    assert.equal(downloading[0].total, source.length);
    assert.ok(downloading[0].completed > 0 && downloading[0].completed < source.length, JSON.stringify(downloading));
    releaseStall();
    releaseStall = null;
    const lines = (await (await first).text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[lines.length - 1].status, 'success');
    assert.deepEqual(await listed(), [], 'a finished pull is no longer listed');
    // Once the stream has ended, the URL is free again.
    const again = post('/admin/v1/models/pull', admin, { url });
    for (let i = 0; i < 100 && !releaseStall; ++i) await new Promise((r) => setTimeout(r, 50));
    releaseStall();
    assert.equal((await again).status, 200);
  });

  test('a local file is pulled from an allowed directory only', async () => {
    const r = await post('/admin/v1/models/pull', admin, { path: join(SHARED, 'models/stories260K.gguf'), name: 'local' });
    assert.equal(r.status, 200);
    const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l));
    const last = lines[lines.length - 1];
    assert.equal(last.status, 'success', JSON.stringify(last));
    assert.equal(last.digest, `sha256:${sourceHex}`);
    const outside = await post('/admin/v1/models/pull', admin, { path: join(SHARED, 'models', '..', 'models', '..', 'README.md') });
    assert.equal(outside.status, 403);
  });

  test('llmux model pull resumes the same way and prints the digest and the blob', async () => {
    const dir = join(dataRoot, 'cli-models');
    const url = `${filesURL}/drop/cli/stories.gguf`;
    const { stdout } = await promisify(execFile)(BIN, ['model', 'pull', url, '--models-dir', dir, '--sha256', sourceHex]);
    const blob = join(dir, 'blobs', `sha256-${sourceHex}`);
    assert.equal(stdout.trim(), `sha256:${sourceHex} ${blob} (${source.length} bytes)`);
    assert.equal(sha256File(blob), sourceHex);
    const gets = seen.filter((s) => s.path === '/drop/cli/stories.gguf');
    assert.equal(gets.length, 2);
    assert.match(gets[1].range, /^bytes=[1-9]\d*-$/);
    // A wrong digest: exit status 1, the mismatch on stderr.
    await assert.rejects(promisify(execFile)(BIN, ['model', 'pull', `${filesURL}/plain/cli.gguf`, '--models-dir', dir,
      '--sha256', 'ef'.repeat(32)]), (e) => e.code === 1 && /digest mismatch/.test(e.stderr));
  });

  test('bad input is 400 and a caller without models:manage gets 403', async () => {
    for (const body of [{ url: 'ftp://example.com/x' }, { url: 'file:///etc/passwd' }, {}, { url: 'http://x/y', sha256: 'nothex' },
      { url: 1 }, { path: '/etc/passwd' }, { url: 'http://x/y', mirror: 'http://z' }]) {
      const r = await post('/admin/v1/models/pull', admin, body);
      assert.ok(r.status === 400 || r.status === 403, `${JSON.stringify(body)}: ${r.status}`);
      assert.equal(typeof (await r.json()).error, 'object');
    }
    const r = await post('/admin/v1/models/pull', userKey, { url: `${filesURL}/plain/x.gguf` });
    assert.equal(r.status, 403);
    const client = new Ollama({ host: server.baseURL, headers: { Authorization: `Bearer ${userKey}` } });
    await assert.rejects(client.pull({ model: `${filesURL}/plain/x.gguf`, stream: false }), (e) => e.status_code === 403);
    assert.ok(!seen.some((s) => s.path === '/plain/x.gguf'));
  });
});
