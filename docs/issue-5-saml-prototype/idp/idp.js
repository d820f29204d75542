// A real SAML 2.0 IdP (samlify) on loopback for Gatehouse's tests.
//   node idp.js <keys-dir>          -> prints {"port": N, "entityId": ...} on stdout, then serves
//   POST /sp            body = SP metadata XML (register one SP; several allowed, keyed by entityID)
//   GET  /metadata      IdP metadata (signing certs: idp.crt)
//   GET  /sso?SAMLRequest=..&SigAlg=..&Signature=..[&RelayState=..]&user=a@b&case=ok&key=idp
//        HTTP-Redirect binding; verifies the AuthnRequest signature (WantAuthnRequestsSigned),
//        answers JSON {acs, SAMLResponse, RelayState} (or an auto-post form with &format=html)
//   GET  /idp-initiated?sp=<entityID>&user=..&case=..  unsolicited Response (no InResponseTo)
// "case" shapes the Response for adversarial tests; "key" picks the signing key (idp|idp2|attacker).
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const crypto = require('crypto');
const saml = require('samlify');

// The SP's AuthnRequest is our own output; this IdP does not need XSD validation of it.
saml.setSchemaValidator({ validate: async () => 'skipped' });

const dir = process.argv[2] || __dirname;
const read = (n) => fs.readFileSync(path.join(dir, n), 'utf8');
const SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const sps = new Map(); // entityID -> ServiceProvider
let base = '';
const idps = {};

function makeIdps() {
  const entityID = `${base}/metadata`;
  for (const key of ['idp', 'idp2', 'attacker']) {
    for (const alg of [SHA256, SHA1, 'enc']) {
      idps[`${key}|${alg}`] = saml.IdentityProvider({
        // 'enc': encrypt the (signed) assertion to the SP's encryption certificate.
        ...(alg === 'enc' ? { isAssertionEncrypted: true,
          dataEncryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
          keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p' } : {}),
        entityID,
        signingCert: read(`${key}.crt`),
        privateKey: read(`${key}.key`),
        wantAuthnRequestsSigned: true,
        requestSignatureAlgorithm: alg === 'enc' ? SHA256 : alg,
        nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
        singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/sso` }],
        singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/slo` }],
      });
    }
  }
}

const iso = (ms) => new Date(Date.now() + ms).toISOString().replace(/\.\d+Z$/, 'Z');
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

function responseXml(t) {
  const audience = t.noAudience ? '' :
    `<saml:AudienceRestriction><saml:Audience>${esc(t.audience)}</saml:Audience></saml:AudienceRestriction>`;
  const irt = t.inResponseTo ? ` InResponseTo="${esc(t.inResponseTo)}"` : '';
  return `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${t.id}" Version="2.0" IssueInstant="${t.issued}" Destination="${esc(t.destination)}"${irt}>` +
    `<saml:Issuer>${esc(t.issuer)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    `<saml:Assertion ID="${t.assertionId}" Version="2.0" IssueInstant="${t.issued}"><saml:Issuer>${esc(t.issuer)}</saml:Issuer>` +
    `<saml:Subject>${t.noNameId ? '' : `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(t.email)}</saml:NameID>`}` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${t.notOnOrAfter}" Recipient="${esc(t.recipient)}"${irt}/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${t.notBefore}" NotOnOrAfter="${t.notOnOrAfter}">${audience}</saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${t.issued}" SessionIndex="_s${t.assertionId}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>${esc(t.email)}</saml:AttributeValue></saml:Attribute>` +
    `<saml:Attribute Name="first_name"><saml:AttributeValue>${esc(t.firstName || 'Ada')}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>` +
    `</saml:Assertion></samlp:Response>`;
}

async function buildResponse(sp, requestId, q) {
  const c = q.case || 'ok';
  const idp = idps[`${q.key || (c === 'attacker_key' ? 'attacker' : 'idp')}|${c === 'sha1' ? SHA1 : q.encrypt ? 'enc' : SHA256}`];
  const acs = sp.entityMeta.getAssertionConsumerService('post');
  const t = {
    id: '_' + crypto.randomUUID(), assertionId: '_' + crypto.randomUUID(),
    issuer: idp.entityMeta.getEntityID(), audience: sp.entityMeta.getEntityID(),
    destination: acs, recipient: acs, inResponseTo: requestId, email: q.user || 'ada@acme.test',
    issued: iso(0), notBefore: iso(-60e3), notOnOrAfter: iso(5 * 60e3),
  };
  if (c === 'wrong_audience') t.audience = 'https://evil.test/sp';
  if (c === 'no_audience') t.noAudience = true;
  if (c === 'no_nameid') t.noNameId = true;
  if (c === 'wrong_destination') t.destination = t.recipient = 'https://evil.test/acs';
  if (c === 'expired') Object.assign(t, { issued: iso(-20 * 60e3), notBefore: iso(-21 * 60e3), notOnOrAfter: iso(-10 * 60e3) });
  if (c === 'not_yet_valid') Object.assign(t, { issued: iso(10 * 60e3), notBefore: iso(10 * 60e3), notOnOrAfter: iso(20 * 60e3) });
  const { context } = await idp.createLoginResponse(sp, { extract: { request: { id: requestId } } }, 'post',
    { email: t.email }, { customTagReplacement: () => ({ id: t.id, context: responseXml(t) }) });
  if (q.encrypt) return { acs, SAMLResponse: context, id: t.id, assertionId: t.assertionId };
  let xml = Buffer.from(context, 'base64').toString('utf8');
  if (c === 'unsigned') xml = xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, '');
  if (c === 'tampered') xml = xml.split(`>${t.email}<`).join('>mallory@acme.test<');
  if (c === 'xsw') {
    // Signature wrapping: the signed assertion is hidden in <samlp:Extensions>, an unsigned copy
    // with another subject (same ID) takes its place.
    const signed = xml.match(/<saml:Assertion[\s\S]*<\/saml:Assertion>/)[0];
    const evil = signed.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '').split(`>${t.email}<`).join('>mallory@acme.test<');
    xml = xml.replace(signed, evil).replace('</samlp:Status>', `</samlp:Status><samlp:Extensions>${signed}</samlp:Extensions>`);
  }
  return { acs, SAMLResponse: Buffer.from(xml).toString('base64'), id: t.id, assertionId: t.assertionId };
}

function form(r, relayState) {
  const rs = relayState ? `<input type="hidden" name="RelayState" value="${esc(relayState)}">` : '';
  return `<!doctype html><form method="post" action="${esc(r.acs)}"><input type="hidden" name="SAMLResponse" value="${r.SAMLResponse}">${rs}<noscript><button>Continue</button></noscript></form><script>document.forms[0].submit()</script>`;
}

async function handle(req, res) {
  const url = new URL(req.url, base);
  const q = Object.fromEntries(url.searchParams);
  const send = (code, type, body) => { res.writeHead(code, { 'content-type': type }); res.end(body); };
  if (req.method === 'POST' && url.pathname === '/sp') {
    let body = ''; for await (const chunk of req) body += chunk;
    // Gatehouse requires signed logout messages; samlify signs them when the SP entity asks.
    const sp = saml.ServiceProvider({ metadata: body, wantLogoutRequestSigned: true, wantLogoutResponseSigned: true });
    sps.set(sp.entityMeta.getEntityID(), sp);
    return send(200, 'application/json', JSON.stringify({ entityID: sp.entityMeta.getEntityID() }));
  }
  if (url.pathname === '/metadata') return send(200, 'text/xml', idps[`idp|${SHA256}`].getMetadata());
  if (url.pathname === '/sso') {
    const xml = require('zlib').inflateRawSync(Buffer.from(q.SAMLRequest, 'base64')).toString();
    const issuer = (xml.match(/<saml:Issuer[^>]*>([^<]+)</) || [])[1];
    const sp = sps.get(issuer);
    if (!sp) return send(400, 'text/plain', `unknown SP ${issuer}`);
    // The signed octet string is the raw query up to (excluding) &Signature=, in wire order.
    const raw = url.search.slice(1).split('&').filter((p) => /^(SAMLRequest|RelayState|SigAlg)=/.test(p)).join('&');
    const parsed = await idps[`idp|${SHA256}`].parseLoginRequest(sp, 'redirect', { query: q, octetString: raw });
    const r = await buildResponse(sp, parsed.extract.request.id, q);
    if (q.format === 'html') return send(200, 'text/html', form(r, q.RelayState));
    return send(200, 'application/json', JSON.stringify({ ...r, RelayState: q.RelayState || null, requestId: parsed.extract.request.id }));
  }
  if (url.pathname === '/idp-initiated') {
    const sp = sps.get(q.sp);
    if (!sp) return send(400, 'text/plain', 'unknown SP');
    const r = await buildResponse(sp, null, q);
    return send(200, 'application/json', JSON.stringify({ ...r, RelayState: q.RelayState || null }));
  }
  if (url.pathname === '/logout-request') {
    const sp = sps.get(q.sp);
    if (!sp) return send(400, 'text/plain', 'unknown SP');
    const { context } = idps[`idp|${SHA256}`].createLogoutRequest(sp, 'redirect', { logoutNameID: q.user });
    return send(200, 'application/json', JSON.stringify({ url: context }));
  }
  send(404, 'text/plain', 'not found');
}

const server = http.createServer((req, res) => handle(req, res).catch((e) => {
  res.writeHead(400, { 'content-type': 'text/plain' }); res.end(String(e && e.message || e));
}));
server.listen(0, '127.0.0.1', () => {
  base = `http://127.0.0.1:${server.address().port}`;
  makeIdps();
  process.stdout.write(JSON.stringify({ port: server.address().port, entityId: `${base}/metadata` }) + '\n');
});
process.stdin.on('end', () => process.exit(0)); // dies with the test process
process.stdin.resume();
