// A real OIDC issuer for tests: npm oauth2-mock-server (installed in tests/e2e by
// scripts/setup) behind a loopback HTTP server on a free port, plus a small control API
// under /__control/ so a test can mint tokens and rotate keys on demand:
//   POST /__control/token   {kid?, expiresIn?, claims?}  -> {token}   (claims: null deletes)
//   POST /__control/rotate  {alg?, retire?}               -> {kid, kids} (new key; retire drops the old)
//   POST /__control/token-endpoint-claims {claims}        -> {}  (added to POST /token results)
//   GET  /__control/stats                                 -> {discovery, jwks, token} request counts
// Prints one JSON line {"port","issuer","version","kid"} when ready; exits when stdin closes
// (so it dies with the test process that started it).
//   node tests/oidc/mock_issuer.mjs [e2e dir with node_modules]
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const e2eDir = process.argv[2] ?? join(here, '..', 'e2e');
const EXPECTED_VERSION = '8.2.3';

let modulePath;
try {
  modulePath = createRequire(join(e2eDir, 'package.json')).resolve('oauth2-mock-server');
} catch (e) {
  console.error(`mock_issuer: oauth2-mock-server is not installed under ${e2eDir} (run scripts/setup): ${e.message}`);
  process.exit(2);
}
const version = JSON.parse(readFileSync(join(dirname(modulePath), '..', 'package.json'), 'utf8')).version;
if (version !== EXPECTED_VERSION) {
  console.error(`mock_issuer: oauth2-mock-server ${version} installed, ${EXPECTED_VERSION} expected`);
  process.exit(2);
}
const { OAuth2Issuer, OAuth2Service } = await import(pathToFileURL(modulePath).href);

let issuerUrl = '';
let issuer;
let service;
let tokenEndpointClaims = {};
const stats = { discovery: 0, jwks: 0, token: 0 };
let nextKid = 1;

function applyClaims(payload, claims) {
  for (const [name, value] of Object.entries(claims ?? {})) {
    if (value === null) delete payload[name];
    else payload[name] = value;
  }
}

// A fresh issuer and service holding `keys` (private JWKs); the only way to drop a key,
// since the library's key store has no removal.
async function install(keys) {
  const next = new OAuth2Issuer();
  next.url = issuerUrl;
  for (const k of keys) await next.keys.add(k);
  const nextService = new OAuth2Service(next);
  nextService.on('beforeTokenSigning', (token) => applyClaims(token.payload, tokenEndpointClaims));
  issuer = next;
  service = nextService;
}

async function generate(alg) {
  const kid = `key-${nextKid++}-${alg.toLowerCase()}`;
  const scratch = new OAuth2Issuer();
  await scratch.keys.generate(alg, alg === 'EdDSA' ? { kid, crv: 'Ed25519' } : { kid });
  return scratch.keys.toJSON(true)[0];
}

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

async function control(req, res, path) {
  const reply = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    if (path === '/__control/stats') return reply(200, stats);
    const body = await readJson(req);
    if (path === '/__control/token') {
      const token = await issuer.buildToken({
        kid: body.kid,
        expiresIn: body.expiresIn,
        scopesOrTransform: (_header, payload) => applyClaims(payload, body.claims),
      });
      return reply(200, { token });
    }
    if (path === '/__control/rotate') {
      const key = await generate(body.alg ?? 'RS256');
      const kept = body.retire ? [] : issuer.keys.toJSON(true);
      await install([...kept, key]);
      return reply(200, { kid: key.kid, kids: issuer.keys.toJSON().map((k) => k.kid) });
    }
    if (path === '/__control/token-endpoint-claims') {
      tokenEndpointClaims = body.claims ?? {};
      return reply(200, {});
    }
    return reply(404, { error: 'unknown control path' });
  } catch (e) {
    return reply(500, { error: String(e?.message ?? e) });
  }
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path.startsWith('/__control/')) return void control(req, res, path);
  if (path === '/.well-known/openid-configuration') stats.discovery++;
  else if (path === '/jwks') stats.jwks++;
  else if (path === '/token') stats.token++;
  return service.requestHandler(req, res);
});

server.listen(0, '127.0.0.1', async () => {
  issuerUrl = `http://127.0.0.1:${server.address().port}`;
  const first = await generate('RS256');
  await install([first]);
  process.stdout.write(
    JSON.stringify({ port: server.address().port, issuer: issuerUrl, version, kid: first.kid }) + '\n');
});

// Die with the parent: it holds our stdin open and never writes to it.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
