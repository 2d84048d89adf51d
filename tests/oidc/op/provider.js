// A real OpenID Provider for Millgate's tests: the certified `oidc-provider`, on localhost.
//
// Environment:
//   PORT       port to listen on (0: any free one)
//   AUDIENCE   the resource indicator (Millgate's MILLGATE_OIDC_AUDIENCE); access tokens
//              for it are JWTs
//   ACCOUNTS   JSON {accountId: {email, email_verified}}: the people who may sign in (the
//              development login form takes any password)
//   KEYS       optional JSON {"keys": [private JWKs]}; generated (RSA, P-256, Ed25519) if unset
//
// Clients `spa-rs256`, `spa-es256` and `spa-eddsa` are public browser clients (PKCE,
// no secret) whose access tokens are signed with that algorithm; `factory-console` is the
// console's (ES256). Prints one line
// `issuer <url>` once it listens.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const audience = process.env.AUDIENCE;
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');
const redirectUri = 'https://frontend.example/callback';
const algorithmOf = { 'spa-rs256': 'RS256', 'spa-es256': 'ES256', 'spa-eddsa': 'EdDSA' };

function privateJwk(type, options, extra) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig', ...extra };
}

const keys = process.env.KEYS
  ? JSON.parse(process.env.KEYS).keys
  : [
    privateJwk('rsa', { modulusLength: 2048 }, { kid: 'rsa-1', alg: 'RS256' }),
    privateJwk('ec', { namedCurve: 'P-256' }, { kid: 'ec-1' }),
    privateJwk('ed25519', {}, { kid: 'ed-1' }),
  ];

async function findAccount(ctx, id) {
  const person = accounts[id];
  if (!person) return undefined;
  return {
    accountId: id,
    async claims() {
      return { sub: id, email: person.email, email_verified: person.email_verified };
    },
  };
}

const configuration = {
  clients: [
    ...Object.keys(algorithmOf).map((clientId) => ({
      client_id: clientId,
      token_endpoint_auth_method: 'none',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
    // Millgate's factory console (console/), served on a loopback address in its tests.
    {
      client_id: 'factory-console',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/console/callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  jwks: { keys },
  findAccount,
  scopes: ['openid', 'email', 'api'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resourceIndicator, client) {
        if (resourceIndicator !== audience) throw new Error('unknown resource');
        return {
          scope: 'api',
          audience,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: algorithmOf[client.clientId] || 'ES256' } },
        };
      },
    },
  },
  // The person's verified address, in the access token itself (the resource server's
  // tokens cannot be taken to this provider's userinfo endpoint).
  async extraTokenClaims(ctx, token) {
    const person = token.accountId && accounts[token.accountId];
    if (!person) return undefined;
    return { email: person.email, email_verified: person.email_verified };
  },
};

const port = Number(process.env.PORT || 0);
const server = (await import('node:http')).createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  console.log(`issuer ${issuer}`);
});
