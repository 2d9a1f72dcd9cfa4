// A real OpenID Connect provider (npm `oidc-provider`) for Tambo's login tests.
//
// Listens on 127.0.0.1 on a free port, prints one JSON line {"issuer": ...} on stdout once
// ready, and serves until its parent closes stdin. Clients and accounts come from the JSON
// in the environment variable TAMBO_TEST_OIDC (written by tests/conftest.py), so the test
// decides the redirect URIs, the second client and the ID token lifetime.
//
// An account may carry `id_token` in that JSON: the provider then misbehaves for that
// account only, replacing the ID token in its token response (see `substitute` below), so
// the tests can drive Tambo's real login through tokens a conforming provider never sends
// to Tambo: one it issued to another client, or one with a claim or signature changed.
import * as crypto from 'node:crypto';
import http from 'node:http';
import { parse } from 'node:querystring';

import Provider from 'oidc-provider';

const setup = JSON.parse(process.env.TAMBO_TEST_OIDC);

// The provider's signing key (published at its jwks_uri), made here so `substitute` can sign
// with it too; a second key it never publishes, for a token signed by someone else.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'provider-key', use: 'sig', alg: 'RS256' };
const { privateKey: strangerKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: setup.clients.map((client) => ({
    ...client,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    profile: ['given_name', 'family_name'],
    email: ['email'],
    dni: ['dni'],
  },
  // ID Gob.pe puts the person's data in the ID token; so does this provider.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['tambo-test-provider-cookie-key'] },
  jwks: { keys: [signingJwk] },
  ttl: { IdToken: setup.id_token_ttl, AccessToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
  async findAccount(ctx, id) {
    const account = setup.accounts[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account.claims }; } };
  },
});

function page(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>Proveedor de prueba</title>${body}`);
}

async function readForm(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return parse(raw);
}

// The sign-in page: account and password, then the grant of the requested scopes.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const action = `/interaction/${details.uid}`;
  if (req.method === 'GET') {
    page(res, 200, `<form method="post" action="${action}"><input name="login"><input name="password" type="password"><button>Ingresar</button></form>`);
    return;
  }
  const form = await readForm(req);
  const account = setup.accounts[form.login];
  if (!account || account.password !== form.password) {
    page(res, 401, '<p>Credenciales incorrectas</p>');
    return;
  }
  const grant = new provider.Grant({ accountId: form.login, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    login: { accountId: form.login },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

const b64url = (data) => Buffer.from(data).toString('base64url');

function sign(header, payload, { alg = 'RS256', key = privateKey, secret = '' } = {}) {
  const input = `${b64url(JSON.stringify({ ...header, alg }))}.${b64url(JSON.stringify(payload))}`;
  if (alg === 'none') return `${input}.`;
  const signature = alg === 'HS256'
    ? crypto.createHmac('sha256', secret).update(input).digest()
    : crypto.sign('sha256', Buffer.from(input), key);
  return `${input}.${b64url(signature)}`;
}

// Replace the ID token the provider just issued, as the account's `id_token` says:
//   issued_to: a client id — the provider issues (its own IdToken model, its own key) a token
//              for that client instead, with the same person and nonce (token substitution);
//   claims:    claims to set (null removes one) on the token, signed again with the key;
//   iat_shift: seconds added to iat;
//   alg:       'HS256' (signed with the requesting client's secret) or 'none';
//   stranger:  signed with a key the provider never published;
//   tamper:    a claim changed after signing.
async function substitute(ctx, spec) {
  const [rawHeader, rawPayload] = ctx.body.id_token.split('.');
  const header = JSON.parse(Buffer.from(rawHeader, 'base64url'));
  const original = JSON.parse(Buffer.from(rawPayload, 'base64url'));
  if (spec.issued_to) {
    const client = await provider.Client.find(spec.issued_to);
    const account = setup.accounts[original.sub];
    const token = new provider.IdToken({ sub: original.sub, ...account.claims }, { ctx, client });
    token.scope = 'openid profile email dni';
    token.set('nonce', original.nonce);
    return token.issue({ use: 'idtoken' });
  }
  const payload = { ...original, iat: original.iat + (spec.iat_shift || 0) };
  for (const [name, value] of Object.entries(spec.claims || {})) {
    if (value === null) delete payload[name]; else payload[name] = value;
  }
  const signed = sign(header, payload, {
    alg: spec.alg || 'RS256',
    key: spec.stranger ? strangerKey : privateKey,
    secret: ctx.oidc.client.clientSecret,
  });
  if (!spec.tamper) return signed;
  const [h, , s] = signed.split('.');
  return `${h}.${b64url(JSON.stringify({ ...payload, dni: '11111111' }))}.${s}`;
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || ctx.method !== 'POST' || !ctx.body?.id_token) return;
  const sub = JSON.parse(Buffer.from(ctx.body.id_token.split('.')[1], 'base64url')).sub;
  const spec = setup.accounts[sub]?.id_token;
  if (spec) ctx.body = { ...ctx.body, id_token: await substitute(ctx, spec) };
});

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => page(res, 500, `<p>${error.message}</p>`));
  } else {
    callback(req, res);
  }
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.stdin.resume();
process.stdin.on('end', () => { server.close(); process.exit(0); });
