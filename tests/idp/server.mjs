// An OpenID-certified provider (npm oidc-provider) with an ID-porten profile, for the login tests.
// Loopback only, never deployed. Configured entirely by the environment:
//   IDP_PORT     port on 127.0.0.1 (0 = any free port); the issuer is http://127.0.0.1:<port>
//   IDP_CLIENTS  JSON list of client metadata (client_secret_post or private_key_jwt clients)
//   IDP_USERS    JSON {login_hint: {pid?, locale?, acr?, amr?}}; a null or missing pid is left out
//   IDP_KEYS     JSON list of private JWKs (RS256, with kid); the first one signs. Default: one new key
// Prints {"ready": true, "issuer": ...} on stdout once it answers requests.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const ACR_VALUES = ['idporten-loa-substantial', 'idporten-loa-high'];

const parse = (name, fallback) => (process.env[name] ? JSON.parse(process.env[name]) : fallback);
const users = parse('IDP_USERS', {});
const clients = parse('IDP_CLIENTS', []);
const keys = parse('IDP_KEYS', null) ?? [
  { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
    kid: randomUUID(), alg: 'RS256', use: 'sig' },
];

// Listen first, so that the issuer names the port actually bound.
const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.IDP_PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  routes: {
    authorization: '/authorize', token: '/token', jwks: '/jwks.json', userinfo: '/userinfo',
    end_session: '/endsession', pushed_authorization_request: '/par', revocation: '/revoke',
    introspection: '/tokeninfo',
  },
  jwks: { keys },
  clients: clients.map((client) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    require_auth_time: true,
    // Registered only so that ID tokens carry `sid`, as ID-porten's do.
    backchannel_logout_uri: `${new URL(client.redirect_uris[0]).origin}/backchannel-logout`,
    backchannel_logout_session_required: true,
    ...client,
  })),
  interactions: { url: (ctx, interaction) => `${issuer}/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  acrValues: ACR_VALUES,
  scopes: ['openid', 'profile', 'offline_access'],
  claims: { auth_time: null, sid: null, openid: ['sub', 'pid', 'locale', 'amr', 'acr'], profile: ['name'] },
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    introspection: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  ttl: {
    AccessToken: 120, IdToken: 120, AuthorizationCode: 60, RefreshToken: 600,
    Grant: 7200, Session: 7200, Interaction: 600,
  },
  rotateRefreshToken: true,
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id, locale: user.locale ?? 'nb' };
        if (user.pid) claims.pid = user.pid;
        return claims;
      },
    };
  },
  renderError(ctx, out) {
    ctx.type = 'application/json';
    ctx.body = out;
  },
});

// The login page: the user is chosen by login_hint; consent is granted at once.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  let result;
  if (prompt.name === 'login') {
    const user = users[params.login_hint];
    if (!user) {
      result = { error: 'access_denied', error_description: 'unknown test user' };
    } else {
      const requested = String(params.acr_values ?? '').split(' ');
      const highest = ACR_VALUES.filter((acr) => requested.includes(acr)).at(-1) ?? ACR_VALUES[0];
      result = {
        login: { accountId: params.login_hint, acr: user.acr ?? highest, amr: user.amr ?? ['TestID'] },
      };
    }
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    grant.addOIDCScope(String(params.scope));
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const handle = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'GET' && /^\/interaction\/[\w-]+$/.test(req.url)) {
    interaction(req, res).catch((err) => {
      const status = err instanceof errors.OIDCProviderError ? err.statusCode : 500;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: err.error ?? 'server_error', error_description: err.message }));
    });
    return;
  }
  handle(req, res);
});

process.stdout.write(`${JSON.stringify({ ready: true, issuer })}\n`);
