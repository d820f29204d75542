// A real OpenID provider (npm oidc-provider, OpenID-certified) for Gatehouse's SSO tests.
//   node oidc_idp.mjs '<json config>'
//
// Started by the Python fixture with one JSON argument:
//   {"clients": [{client_id, client_secret, redirect_uris, token_endpoint_auth_method?}],
//    (more clients register at POST /reg, open dynamic registration),
//    "accounts": {"<sub>": {email, email_verified, name, groups, ...}},
//    "conformIdTokenClaims": true}
// It listens on 127.0.0.1 on a free port and prints one line {"issuer": "http://127.0.0.1:<port>"}
// when ready. No dev interactions: GET /interaction/<uid> answers JSON describing the prompt,
// POST /interaction/<uid>/login (form: login=<sub>[&amr=pwd,mfa][&acr=...]) signs that account
// in. Consent is granted automatically (loadExistingGrant). PKCE is required for every client.
// PUT /__test/accounts/<sub> (JSON claims) replaces an account (role-mapping tests).
// clientSecretJwt {publicKey, teamId, keyId}: the token endpoint checks Apple-style client
// secrets (ES256 JWTs); pkceRequired: false lets a client go without PKCE.
// GET /__test/hits answers {"jwks": <requests for the provider's key set so far>}.
import crypto from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';

import { importSPKI, jwtVerify } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] || '{}');
const accounts = { ...(config.accounts || {}) };

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' };

let provider;
let providerCallback;
const hits = { jwks: 0 };

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === '__test' && parts[1] === 'hits' && req.method === 'GET') {
      return send(res, 200, hits);
    }
    if (url.pathname === '/jwks') hits.jwks += 1;
    if (parts[0] === '__test' && parts[1] === 'accounts' && req.method === 'PUT') {
      accounts[parts[2]] = JSON.parse(await readBody(req));
      return send(res, 204, {});
    }
    if (parts[0] === 'interaction' && parts[1]) {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== parts[1]) return send(res, 400, { error: 'interaction mismatch' });
      if (req.method === 'GET' && parts.length === 2) {
        return send(res, 200, { uid: details.uid, prompt: details.prompt.name, params: details.params });
      }
      if (req.method === 'POST' && parts[2] === 'login') {
        const form = new URLSearchParams(await readBody(req));
        const accountId = form.get('login');
        if (!accounts[accountId]) return send(res, 400, { error: 'unknown account' });
        const login = { accountId };
        if (form.get('amr')) login.amr = form.get('amr').split(',');
        if (form.get('acr')) login.acr = form.get('acr');
        return await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
      }
      if (req.method === 'POST' && parts[2] === 'abort') {
        return await provider.interactionFinished(req, res, {
          error: 'access_denied', error_description: 'the user cancelled',
        }, { mergeWithLastSubmission: false });
      }
      return send(res, 404, { error: 'not found' });
    }
    if (config.clientSecretJwt && req.method === 'POST' && url.pathname === '/token') {
      // Sign in with Apple's client authentication: the client secret is an ES256 JWT the
      // client signs (iss: team id, sub: client id, aud: the issuer, kid: the key's id).
      // Checked here, then swapped for the client's registered secret.
      const form = new URLSearchParams(await readBody(req));
      const clientId = form.get('client_id') || '';
      const client = await provider.Client.find(clientId);
      try {
        const key = await importSPKI(config.clientSecretJwt.publicKey, 'ES256');
        const { protectedHeader } = await jwtVerify(form.get('client_secret') || '', key, {
          algorithms: ['ES256'], issuer: config.clientSecretJwt.teamId, audience: issuer, subject: clientId,
        });
        if (!client || protectedHeader.kid !== config.clientSecretJwt.keyId) throw new Error('wrong client or kid');
      } catch (err) {
        return send(res, 401, { error: 'invalid_client', error_description: String(err) });
      }
      form.set('client_secret', client.clientSecret);
      req.body = form.toString();
    }
    return providerCallback(req, res);
  } catch (err) {
    return send(res, 500, { error: String(err) });
  }
});

server.listen(0, '127.0.0.1');
await once(server, 'listening');
const issuer = `http://127.0.0.1:${server.address().port}`;

provider = new Provider(issuer, {
  clients: (config.clients || []).map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  findAccount: async (ctx, id) => (accounts[id] ? {
    accountId: id,
    claims: async () => ({ sub: id, ...accounts[id] }),
  } : undefined),
  claims: {
    // acr/amr/auth_time ride on the openid scope so they reach the ID token (MFA-trust tests).
    // extraOpenidClaims: more claims on the openid scope (the social tests' Microsoft: tid).
    openid: ['sub', 'acr', 'amr', 'auth_time', ...(config.extraOpenidClaims || [])],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'groups'],
  },
  conformIdTokenClaims: config.conformIdTokenClaims ?? true,
  // Dynamic registration: each test connection registers its own client and redirect URI.
  features: { devInteractions: { enabled: false }, registration: { enabled: true } },
  // pkceRequired: false for the Apple stand-in (Sign in with Apple takes no PKCE).
  pkce: { required: () => config.pkceRequired ?? true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // First-party test client: consent is implied, so the only interaction is the login.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  ttl: { Interaction: 600, Session: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
});
providerCallback = provider.callback();
provider.on('server_error', (ctx, err) => console.error('server_error', err));

process.on('SIGTERM', () => process.exit(0));
// Dies with the test process even if it is killed without cleaning up.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
console.log(JSON.stringify({ issuer }));
