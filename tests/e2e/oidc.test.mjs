// Access tokens of an external OIDC issuer (npm oauth2-mock-server, started by
// tests/oidc/mock_issuer.mjs) accepted by `llmux serve --oidc-issuer`, end to end: roles come
// from the token's roles claim; expired, wrong-audience, tampered and unsigned tokens get 401.
// Key rotation and the rest of the refusals are covered against the same issuer by
// tests/oidc/oidc_issuer_test.cc.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHARED, startServer } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const MODEL = 'stories';
let issuerProcess, issuer, server;

async function mint(body) {
  const r = await fetch(`${issuer.issuer}/__control/token`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(r.status, 200);
  return (await r.json()).token;
}

async function chat(token) {
  const r = await fetch(`${server.baseURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 }),
  });
  return { status: r.status, json: await r.json() };
}

before(async () => {
  issuerProcess = spawn(process.execPath, [join(here, '../oidc/mock_issuer.mjs'), here],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  issuer = await new Promise((resolve, reject) => {
    let out = '';
    issuerProcess.stdout.on('data', (c) => {
      out += c;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) resolve(JSON.parse(line));
    });
    issuerProcess.on('exit', (code) => reject(new Error(`mock issuer exited with ${code}`)));
  });
  server = await startServer([`${MODEL}=${join(SHARED, 'models/stories260K.gguf')}`],
    ['--oidc-issuer', issuer.issuer, '--oidc-audience', 'llmux'], { auth: true });
});

after(async () => {
  if (server) await server.stop();
  issuerProcess?.stdin.end();
});

test('a valid token of the issuer works; its roles claim decides', async () => {
  const user = await mint({ claims: { aud: 'llmux', sub: 'alice@example.com', roles: ['user'] } });
  const ok = await chat(user);
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal(ok.json.choices[0].message.role, 'assistant');
  // A caller without a role holding models:use:* is known but not allowed.
  const nobody = await mint({ claims: { aud: 'llmux', sub: 'bob@example.com', roles: [] } });
  assert.equal((await chat(nobody)).status, 403);
  const admin = await mint({ claims: { aud: 'llmux', sub: 'root@example.com', roles: ['admin'] } });
  const users = await fetch(`${server.baseURL}/admin/v1/users`, { headers: { Authorization: `Bearer ${admin}` } });
  assert.equal(users.status, 200);
});

test('expired, wrong audience, tampered and unsigned tokens are refused with 401', async () => {
  const expired = await mint({ expiresIn: -120, claims: { aud: 'llmux', sub: 'a', roles: ['user'] } });
  const wrongAud = await mint({ claims: { aud: 'someone-else', sub: 'a', roles: ['user'] } });
  const good = await mint({ claims: { aud: 'llmux', sub: 'a', roles: ['user'] } });
  const [h, p, s] = good.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  payload.roles = ['admin'];
  const tampered = [h, Buffer.from(JSON.stringify(payload)).toString('base64url'), s].join('.');
  const none = [Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'), p, ''].join('.');
  for (const [name, token] of Object.entries({ expired, wrongAud, tampered, none })) {
    const r = await chat(token);
    assert.equal(r.status, 401, `${name}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.error.type, 'authentication_error');
    assert.equal(JSON.stringify(r.json).includes(token), false);
  }
});
