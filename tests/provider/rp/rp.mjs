// A relying party on openid-client (certified), driven by Gatehouse's tests one command at a
// time: each line on stdin is a JSON command, each answer one JSON line on stdout. The
// process keeps the client configuration and the pending request's PKCE verifier, state and
// nonce between commands, and exits when stdin closes.
//
// Commands: discover {issuer, client_id, client_secret?, metadata?} · authorize_url {params}
// · callback {url} · userinfo {access_token, sub} · refresh {refresh_token} · revoke {token}
// · end_session_url {params} · client_credentials {params} · introspect {token}
// · device_start {params} · device_poll {}.
//
// Signatures of ID tokens are checked (enableNonRepudiationChecks: openid-client checks only
// the header's alg by default), and http is allowed because the test server is on loopback.
import * as client from "openid-client";
import readline from "node:readline";

let config = null;
let pending = null;

function claimsOf(tokens) {
  return tokens.claims ? { ...tokens.claims() } : null;
}

function plain(tokens) {
  return {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token ?? null,
    id_token: tokens.id_token ?? null,
    scope: tokens.scope ?? null,
    expires_in: tokens.expiresIn?.() ?? null,
    claims: claimsOf(tokens),
  };
}

const commands = {
  async discover({ issuer, client_id, client_secret, metadata }) {
    const auth = client_secret ? client.ClientSecretBasic(client_secret) : client.None();
    config = await client.discovery(new URL(issuer), client_id, metadata ?? {}, auth, {
      execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
    });
    return { metadata: config.serverMetadata() };
  },

  async authorize_url({ params }) {
    const verifier = client.randomPKCECodeVerifier();
    pending = { verifier, state: client.randomState(), nonce: client.randomNonce() };
    const url = client.buildAuthorizationUrl(config, {
      ...params,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url: url.href, state: pending.state, nonce: pending.nonce };
  },

  async callback({ url, max_age }) {
    const checks = {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    };
    if (max_age !== undefined) checks.maxAge = max_age;
    const tokens = await client.authorizationCodeGrant(config, new URL(url), checks);
    return plain(tokens);
  },

  async userinfo({ access_token, sub }) {
    return { claims: await client.fetchUserInfo(config, access_token, sub) };
  },

  async refresh({ refresh_token }) {
    return plain(await client.refreshTokenGrant(config, refresh_token));
  },

  async revoke({ token }) {
    await client.tokenRevocation(config, token);
    return {};
  },

  async end_session_url({ params }) {
    return { url: client.buildEndSessionUrl(config, params).href };
  },

  async client_credentials({ params }) {
    return plain(await client.clientCredentialsGrant(config, params ?? {}));
  },

  async introspect({ token }) {
    return { answer: { ...(await client.tokenIntrospection(config, token)) } };
  },

  async device_start({ params }) {
    pending = { device: await client.initiateDeviceAuthorization(config, params ?? {}) };
    return { ...pending.device };
  },

  // Polls at the server's interval (openid-client waits it out, and slows down when told).
  async device_poll() {
    return plain(await client.pollDeviceAuthorizationGrant(config, pending.device));
  },
};

function failure(error) {
  return {
    ok: false,
    name: error?.name ?? "Error",
    code: error?.code ?? null,
    error: error?.error ?? null,
    message: String(error?.message ?? error),
    status: error?.status ?? null,
    cause: error?.cause?.message ?? null,
    cause_code: error?.cause?.code ?? null,
  };
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    const { cmd, ...args } = JSON.parse(line);
    if (!(cmd in commands)) throw new Error(`unknown command ${cmd}`);
    answer = { ok: true, ...(await commands[cmd](args)) };
  } catch (error) {
    answer = failure(error);
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
