// A real OpenID Connect provider (npm `oidc-provider`) for Tambo's login tests.
//
// Listens on 127.0.0.1 on a free port, prints one JSON line {"issuer": ...} on stdout once
// ready, and serves until its parent closes stdin. Clients and accounts come from the JSON
// in the environment variable TAMBO_TEST_OIDC (written by tests/conftest.py), so the test
// decides the redirect URIs, the second client and the ID token lifetime.
import http from 'node:http';
import { parse } from 'node:querystring';

import Provider from 'oidc-provider';

const setup = JSON.parse(process.env.TAMBO_TEST_OIDC);

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
