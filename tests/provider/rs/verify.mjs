// verify.mjs: check a Gatehouse access token (RFC 9068) in a Node resource server.
// npm install jose
import { createRemoteJWKSet, jwtVerify } from "jose";

const ISSUER = process.env.GATEHOUSE_ISSUER ?? "https://id.example.com"; // Gatehouse's PUBLIC_URL
const AUDIENCE = process.env.API_IDENTIFIER ?? "https://invoices.example.com/"; // your API
const JWKS_URL = process.env.GATEHOUSE_JWKS ?? `${ISSUER}/o/.well-known/jwks.json`;

// Fetched once, cached, and fetched again when a token names a key it has not seen yet.
const jwks = createRemoteJWKSet(new URL(JWKS_URL));

export async function verifyAccessToken(token) {
  const { payload } = await jwtVerify(token, jwks, {
    issuer: ISSUER,
    audience: AUDIENCE,
    typ: "at+jwt", // an access token, not an ID token signed by the same keys
    algorithms: ["RS256", "ES256"],
    requiredClaims: ["exp", "iat", "sub", "client_id"],
  });
  return payload; // payload.scope is space-separated: check the permission the route needs
}

// node verify.mjs <token>: prints the claims, or {"error": ...} and exits 1.
if (process.argv[2]) {
  verifyAccessToken(process.argv[2]).then(
    (payload) => console.log(JSON.stringify(payload)),
    (error) => {
      console.log(JSON.stringify({ error: error.code ?? error.name, message: error.message }));
      process.exit(1);
    },
  );
}
