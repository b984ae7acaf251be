// `llmux serve --tls-cert/--tls-key`: HTTPS and gRPC over TLS with certificates made here by
// the openssl command line, and gRPC client certificates (--grpc-client-ca,
// --grpc-require-client-cert) for internal callers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { SHARED, startServer } from './server.mjs';

const dir = mkdtempSync(join(tmpdir(), 'llmux-e2e-tls-'));
const f = (name) => join(dir, name);
let server;

function openssl(...args) { execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] }); }

// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA.
function makePki() {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-days', '1', '-subj', '/CN=llmux test CA');
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], ['client', 'extendedKeyUsage=clientAuth']]) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`),
      '-subj', `/CN=llmux test ${name}`);
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
      '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '1', '-extfile', f(`${name}.ext`));
  }
}

function get(path, key, { trustCa = true } = {}) {
  const url = new URL(path, server.baseURL);
  const ca = trustCa ? readFileSync(f('ca.pem')) : undefined;
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca, headers: key ? { Authorization: `Bearer ${key}` } : {} }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function listModels(credentials, key) {
  const protoRoot = fileURLToPath(new URL('../../proto', import.meta.url));
  const def = protoLoader.loadSync('llmux/v1/inference.proto', { includeDirs: [protoRoot], keepCase: true });
  const Inference = grpc.loadPackageDefinition(def).llmux.v1.Inference;
  const client = new Inference(server.grpcAddr, credentials);
  const md = new grpc.Metadata();
  if (key) md.set('authorization', `Bearer ${key}`);
  return new Promise((resolve) => {
    client.ListModels({}, md, { deadline: Date.now() + 10000 }, (err, reply) => {
      client.close();
      resolve({ code: err ? err.code : 0, reply });
    });
  });
}

before(async () => {
  makePki();
  server = await startServer([`stories=${join(SHARED, 'models/stories260K.gguf')}`],
    ['--tls-cert', f('server.pem'), '--tls-key', f('server.key'), '--grpc-client-ca', f('ca.pem'),
      '--grpc-require-client-cert'], { auth: true });
});

after(async () => {
  if (server) await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('HTTPS serves the API to a client that trusts the CA', async () => {
  assert.match(server.baseURL, /^https:/);
  assert.equal((await get('/health')).status, 200);
  const models = await get('/v1/models', server.adminKey);
  assert.equal(models.status, 200);
  assert.deepEqual(JSON.parse(models.body).data.map((m) => m.id), ['stories']);
  assert.equal((await get('/v1/models')).status, 401);
});

test('a client that does not trust the certificate, or speaks plain HTTP, gets nothing', async () => {
  await assert.rejects(get('/health', null, { trustCa: false }), /self-signed|unable to verify|certificate/);
  await assert.rejects(fetch(server.baseURL.replace('https:', 'http:') + '/health'));
});

test('gRPC over TLS needs the client certificate signed by --grpc-client-ca', async () => {
  const ca = readFileSync(f('ca.pem'));
  const withCert = grpc.credentials.createSsl(ca, readFileSync(f('client.key')), readFileSync(f('client.pem')));
  const ok = await listModels(withCert, server.adminKey);
  assert.equal(ok.code, 0);
  assert.deepEqual(ok.reply.models.map((m) => m.id), ['stories']);
  // The certificate admits the connection; the API key still decides what the caller may do.
  assert.equal((await listModels(withCert, null)).code, grpc.status.UNAUTHENTICATED);
  assert.equal((await listModels(grpc.credentials.createSsl(ca), server.adminKey)).code, grpc.status.UNAVAILABLE);
  assert.equal((await listModels(grpc.credentials.createInsecure(), server.adminKey)).code, grpc.status.UNAVAILABLE);
});
