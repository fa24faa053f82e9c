// Dev/test OpenID Connect provider shaped like a Keycloak realm.
//
// Built on `oidc-provider` (OpenID Certified). It only ever binds to
// 127.0.0.1 and keeps all state in memory. See README.md for config and the
// test hook API.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';

const HERE = dirname(fileURLToPath(import.meta.url));
const HOST = '127.0.0.1'; // never anything else: this is a test double
const log = (...args) => console.error('[oidc-dev]', ...args);

// ---------------------------------------------------------------- config ---
// OIDC_PROVIDER_CONFIG is either a path to a JSON file or the JSON itself.
function loadConfig() {
  const raw = process.env.OIDC_PROVIDER_CONFIG;
  if (!raw) return {};
  return JSON.parse(raw.trim().startsWith('{') ? raw : readFileSync(raw, 'utf8'));
}

const config = loadConfig();
const REALM = config.realm || process.env.REALM || 'aixops';
const PORT = Number(process.env.PORT || config.port || 8080);
const PREFIX = `/realms/${REALM}`;
const BASE = `http://${HOST}:${PORT}`;
const ISSUER = `${BASE}${PREFIX}`;
const TEST_HOOKS = config.testHooks === true;

const DEFAULT_CLIENT = {
  client_id: 'aixops-portal',
  client_secret: 'aixops-portal-secret',
  redirect_uris: ['http://127.0.0.1:8000/oidc/callback/'],
  post_logout_redirect_uris: ['http://127.0.0.1:8000/'],
};

const clients = (config.clients?.length ? config.clients : [DEFAULT_CLIENT]).map((c) => ({
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  // Basic and post are interchangeable in oidc-provider for a secret client.
  token_endpoint_auth_method: 'client_secret_basic',
  backchannel_logout_session_required: true,
  ...c,
}));

// ----------------------------------------------------------------- users ---
// Users use Keycloak's realm-export field names (username, email,
// emailVerified, firstName, lastName, enabled, groups, realmRoles,
// clientRoles) plus a plain `password`.
const users = new Map(); // username -> user

// Keycloak subjects are UUIDs; derive a stable one (UUIDv5-style) so the same
// username always gets the same `sub` across restarts unless `id` is given.
function stableUuid(name) {
  const h = createHash('sha1').update(`aixops-dev-oidc:${name}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function upsertUser(input) {
  if (!input?.username) throw new Error('user needs a username');
  const prev = users.get(input.username) || {
    id: stableUuid(input.username), enabled: true, emailVerified: false,
    groups: [], realmRoles: [], clientRoles: {},
  };
  const user = { ...prev, ...input };
  users.set(user.username, user);
  return user;
}

const findUserBySub = (sub) => [...users.values()].find((u) => u.id === sub);
const publicUser = ({ password, ...rest }) => rest;

for (const u of JSON.parse(readFileSync(join(HERE, 'users.json'), 'utf8'))) upsertUser(u);
if (config.usersFile) {
  for (const u of JSON.parse(readFileSync(config.usersFile, 'utf8'))) upsertUser(u);
}
for (const u of config.users || []) upsertUser(u);

// What Keycloak puts in the tokens besides the user's own roles: every user
// has the composite default role and the `account` client's roles.
function keycloakClaims(user) {
  const realmRoles = [...new Set([
    ...user.realmRoles, `default-roles-${REALM}`, 'offline_access', 'uma_authorization',
  ])];
  const resourceAccess = {
    account: { roles: ['manage-account', 'manage-account-links', 'view-profile'] },
  };
  for (const [clientId, roles] of Object.entries(user.clientRoles || {})) {
    resourceAccess[clientId] = { roles };
  }
  const name = [user.firstName, user.lastName].filter(Boolean).join(' ');
  return {
    sub: user.id,
    preferred_username: user.username,
    email: user.email,
    email_verified: Boolean(user.emailVerified),
    name: name || undefined,
    given_name: user.firstName,
    family_name: user.lastName,
    groups: user.groups,
    // Keycloak's `locale` mapper (profile scope): the user's locale attribute, which they
    // set by picking a language, sent only when there is one.
    locale: user.attributes?.locale?.[0],
    realm_access: { roles: realmRoles },
    resource_access: resourceAccess,
  };
}

// --------------------------------------------------------------- adapter ---
// A plain in-memory adapter (instead of the built-in LRU one) so the test
// hooks can enumerate sessions of a user and revoke by grant.
const store = new Map(); // "Model:id" -> { model, payload, exp }
const live = (e) => e && (!e.exp || e.exp > Date.now()) ? e : undefined;

class MemoryAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    store.set(this.key(id), {
      model: this.model, payload, exp: expiresIn ? Date.now() + expiresIn * 1000 : 0,
    });
  }

  async find(id) { return live(store.get(this.key(id)))?.payload; }

  async findBy(field, value) {
    for (const e of store.values()) {
      if (e.model === this.model && live(e) && e.payload[field] === value) return e.payload;
    }
    return undefined;
  }

  findByUid(uid) { return this.findBy('uid', uid); }

  findByUserCode(code) { return this.findBy('userCode', code); }

  async consume(id) {
    const e = live(store.get(this.key(id)));
    if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const [k, e] of store) if (e.payload.grantId === grantId) store.delete(k);
  }
}

// ------------------------------------------------------------- provider ---
// Fresh RS256 key per start; clients fetch the JWKS anyway.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig',
};

function logoutSource(ctx, form) {
  // oidc-provider always asks "do you want to sign out?". Keycloak does not
  // when id_token_hint is valid, so the form submits itself (the button also
  // works without JavaScript). logout=yes ends the whole SSO session like
  // Keycloak, which back-channel-notifies every client of the session.
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Logging out</title></head>
<body><h1>Logging out of ${REALM}</h1>${form}
<button id="kc-logout" type="submit" form="op.logoutForm" name="logout" value="yes">Logout</button>
<script>document.getElementById('kc-logout').click();</script></body></html>`;
}

const provider = new Provider(ISSUER, {
  adapter: MemoryAdapter,
  clients,
  jwks: { keys: [signingKey] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256'], userinfoSigningAlgValues: ['RS256'] },
  async findAccount(ctx, sub) {
    const user = findUserBySub(sub);
    // A disabled (or deleted) user has no account: oidc-provider then rejects
    // refresh tokens, userinfo calls and existing sessions for it.
    if (!user || user.enabled === false) return undefined;
    return { accountId: sub, claims: async () => keycloakClaims(user) };
  },
  // Keycloak puts profile data in the id_token; oidc-provider by default only
  // does so when no access token is issued alongside.
  conformIdTokenClaims: false,
  scopes: ['openid', 'offline_access', 'email', 'profile', 'roles'],
  claims: {
    email: ['email', 'email_verified'],
    // Keycloak's claims are all mapped onto `profile` so that the usual
    // `openid email profile` returns them in both id_token and userinfo.
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'locale',
      'groups', 'realm_access', 'resource_access'],
    roles: ['realm_access', 'resource_access'],
  },
  // Keycloak hands out refresh tokens without offline_access.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Keycloak's URL layout under /realms/<realm>.
  routes: {
    authorization: '/protocol/openid-connect/auth',
    token: '/protocol/openid-connect/token',
    userinfo: '/protocol/openid-connect/userinfo',
    jwks: '/protocol/openid-connect/certs',
    end_session: '/protocol/openid-connect/logout',
    revocation: '/protocol/openid-connect/revoke',
    introspection: '/protocol/openid-connect/token/introspect',
    pushed_authorization_request: '/protocol/openid-connect/ext/par/request',
  },
  interactions: { url: (ctx, interaction) => `${PREFIX}/login-actions/authenticate/${interaction.uid}` },
  cookies: { keys: [randomBytes(32).toString('hex')] }, // http: cookies are not `secure`
  // Like Keycloak, PKCE is optional for every client; a code_challenge that is
  // sent (S256 only) is always verified.
  pkce: { required: () => false },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true, logoutSource },
    backchannelLogout: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  ttl: {
    AccessToken: 300, AuthorizationCode: 60, IdToken: 300, Interaction: 3600,
    RefreshToken: 1800, Session: 36000, Grant: 36000, ...config.ttl,
  },
});

provider.on('server_error', (ctx, err) => log('server_error', err));
provider.on('backchannel.success', (ctx, client, sub, sid) => log('backchannel logout sent to', client.clientId, sub, sid));
provider.on('backchannel.error', (ctx, err, client) => log('backchannel logout to', client.clientId, 'failed:', err.message));

// --------------------------------------------------------- login screens ---
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// Keycloak's login page markup essentials: #kc-form-login, username/password
// inputs, submit #kc-login, error in #input-error.
function loginPage(res, action, { username = '', error } = {}) {
  res.writeHead(error ? 400 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in to ${esc(REALM)}</title></head>
<body><h1 id="kc-page-title">Sign in to your account</h1>
${error ? `<div class="alert-error"><span id="input-error" class="kc-feedback-text">${esc(error)}</span></div>` : ''}
<form id="kc-form-login" method="post" action="${esc(action)}">
<label for="username">Username or email</label>
<input id="username" name="username" type="text" value="${esc(username)}" autofocus autocomplete="username">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<input id="kc-login" name="login" type="submit" value="Sign In">
</form></body></html>`);
}

async function readBody(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 1e6) throw new Error('body too large');
  }
  return body;
}

async function handleInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  const action = `${PREFIX}/login-actions/authenticate/${uid}`;

  if (prompt.name === 'consent') {
    // All configured clients are first-party: grant what was asked, no screen.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  if (req.method !== 'POST') return loginPage(res, action, { username: params.login_hint });

  const form = new URLSearchParams(await readBody(req));
  const username = form.get('username') || '';
  const user = users.get(username) || [...users.values()].find((u) => u.email && u.email === username);
  if (!user || user.password !== form.get('password')) {
    return loginPage(res, action, { username, error: 'Invalid username or password.' });
  }
  if (user.enabled === false) {
    return loginPage(res, action, { username, error: 'Account is disabled, contact your administrator.' });
  }
  return provider.interactionFinished(req, res, {
    login: { accountId: user.id, amr: ['pwd'] },
  }, { mergeWithLastSubmission: false });
}

// ------------------------------------------------------------ test hooks ---
// Ends every session of a user the way an admin "sign out" in Keycloak does:
// back-channel logout to each client of the session, tokens revoked.
async function logoutUser(username) {
  const user = users.get(username);
  if (!user) return { status: 404, body: { error: 'unknown user' } };
  const notified = [];
  for (const [key, e] of [...store]) {
    if (e.model !== 'Session' || !live(e) || e.payload.accountId !== user.id) continue;
    for (const [clientId, { sid, grantId }] of Object.entries(e.payload.authorizations || {})) {
      const client = await provider.Client.find(clientId);
      if (client?.backchannelLogoutUri) {
        try {
          await client.backchannelLogout(user.id, sid);
          notified.push({ client_id: clientId, sid });
        } catch (err) {
          log('backchannel logout to', clientId, 'failed:', err.message);
        }
      }
      if (grantId) {
        for (const [k, g] of [...store]) {
          if (k === `Grant:${grantId}` || g.payload.grantId === grantId) store.delete(k);
        }
      }
    }
    store.delete(key);
  }
  return { status: 200, body: { username, notified } };
}

async function handleTestHook(req, res, path) {
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    if (path === '/_test/users' && req.method === 'GET') {
      return send(200, [...users.values()].map(publicUser));
    }
    if (path === '/_test/users' && req.method === 'POST') {
      const user = upsertUser(JSON.parse(await readBody(req)));
      if (user.enabled === false) {
        // Also drop the user's sessions, grants and tokens so that
        // introspection says inactive at once, as Keycloak does for a
        // disabled user (findAccount already blocks refresh and userinfo).
        for (const [k, e] of [...store]) if (e.payload.accountId === user.id) store.delete(k);
      }
      return send(200, publicUser(user));
    }
    if (path === '/_test/logout' && req.method === 'POST') {
      const { status, body } = await logoutUser(JSON.parse(await readBody(req)).username);
      return send(status, body);
    }
    return send(404, { error: 'unknown test hook' });
  } catch (err) {
    return send(400, { error: err.message });
  }
}

// ---------------------------------------------------------------- server ---
const oidc = provider.callback();

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, BASE);
  try {
    if (TEST_HOOKS && pathname.startsWith('/_test/')) return await handleTestHook(req, res, pathname);
    if (pathname.startsWith(`${PREFIX}/login-actions/authenticate/`)) return await handleInteraction(req, res);
    if (pathname === PREFIX || pathname.startsWith(`${PREFIX}/`)) {
      // Mounting under a path: oidc-provider wants the prefix stripped from
      // req.url and the full URL in req.originalUrl (as Express would do).
      req.originalUrl = req.url;
      req.url = req.url.slice(PREFIX.length) || '/';
      return oidc(req, res);
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    return res.end('Not found\n');
  } catch (err) {
    log('request failed', req.method, pathname, err);
    if (!res.headersSent) res.writeHead(err.statusCode || 500, { 'content-type': 'text/plain' });
    return res.end(`${err.name}: ${err.message}\n`);
  }
});

server.listen(PORT, HOST, () => {
  log(`issuer ${ISSUER} (clients: ${clients.map((c) => c.client_id).join(', ')}; test hooks ${TEST_HOOKS ? 'on' : 'off'})`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { server.close(); server.closeAllConnections(); process.exit(0); });
}
