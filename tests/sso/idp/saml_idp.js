// A real SAML 2.0 identity provider (npm samlify) on loopback for Gatehouse's SSO tests.
//
//   node saml_idp.js <keys-dir>    keys-dir holds idp.crt/.key, idp2.crt/.key, attacker.crt/.key
//   prints one line {"port": N, "entityId": "..."} once it listens on 127.0.0.1, and exits when
//   its stdin closes (so it dies with the test process).
//
// Routes:
//   POST /sp              body = an SP's metadata XML; registers it (keyed by its entityID)
//   GET  /metadata        the IdP's metadata; ?certs=idp,idp2 lists several signing certificates
//   GET  /sso?<SAMLRequest, SigAlg, Signature, RelayState as the SP sent them>&user=&case=&key=
//        &encrypt=1&groups=a,b&authn_context=<class ref>
//        &repeat_attribute=<name>  a second <Attribute> with that Name, before the first
//        &second_value=<name>      that attribute with a second <AttributeValue>, first
//        &other=<value>            what the extra one says (default mallory@acme.test)
//        HTTP-Redirect binding. Verifies the AuthnRequest's signature, then answers JSON
//        {acs, SAMLResponse, RelayState, requestId, assertionId} (what the browser would POST).
//   GET  /idp-initiated?sp=<entityID>&user=...    an unsolicited Response (no InResponseTo)
//   GET  /logout-request?sp=<entityID>&user=...   {url}: a signed LogoutRequest (redirect binding)
//   GET  /slo?SAMLRequest=..&SigAlg=..&Signature=..  verifies the SP's signed LogoutRequest and
//        answers JSON {nameID, sessionIndex, issuer, responseUrl: its signed LogoutResponse}
//
// "case" spoils the Response for adversarial tests: ok unsigned tampered attacker_key
// wrong_audience no_audience expired not_yet_valid wrong_destination sha1 xsw no_nameid.
// "key" picks the signing key: idp (default), idp2 (rotation) or attacker.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const zlib = require('zlib');
const saml = require('samlify');

// The only requests this IdP parses are the SP's (Gatehouse's) own output; the SP validates
// what *it* receives, which is what the tests are about.
saml.setSchemaValidator({ validate: async () => 'skipped' });

const keysDir = process.argv[2];
const read = (name) => fs.readFileSync(path.join(keysDir, name), 'utf8');
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const KEYS = ['idp', 'idp2', 'attacker'];
const serviceProviders = new Map();
const identityProviders = {};
let base = '';

function makeIdentityProviders() {
  for (const key of KEYS) {
    for (const flavour of ['sha256', 'sha1', 'encrypted']) {
      identityProviders[`${key}/${flavour}`] = saml.IdentityProvider({
        entityID: `${base}/metadata`,
        signingCert: read(`${key}.crt`),
        privateKey: read(`${key}.key`),
        wantAuthnRequestsSigned: true,
        requestSignatureAlgorithm: flavour === 'sha1' ? RSA_SHA1 : RSA_SHA256,
        nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
        singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/sso` }],
        singleLogoutService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/slo` }],
        ...(flavour === 'encrypted' ? {
          isAssertionEncrypted: true,
          dataEncryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
          keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
        } : {}),
      });
    }
  }
}

function metadataWith(certNames) {
  // samlify's getMetadata() lists one signing certificate; rotation needs several.
  const xml = identityProviders['idp/sha256'].getMetadata();
  const body = (name) => read(`${name}.crt`).replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const descriptor = (name) => '<KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
    + `<ds:X509Data><ds:X509Certificate>${body(name)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>`;
  const extra = certNames.filter((n) => n !== 'idp').map(descriptor).join('');
  return xml.replace(/(<IDPSSODescriptor[^>]*>)/, `$1${extra}`);
}

const instant = (offsetMs) => new Date(Date.now() + offsetMs).toISOString().replace(/\.\d+Z$/, 'Z');
const escape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function attribute(name, values) {
  const vals = values.map((v) => `<saml:AttributeValue>${escape(v)}</saml:AttributeValue>`).join('');
  return `<saml:Attribute Name="${escape(name)}">${vals}</saml:Attribute>`;
}

// samlify's default template has no AuthnStatement or AttributeStatement, which a strict SP
// refuses; the whole Response is written here and samlify signs (and encrypts) it.
function responseXml(t) {
  const irt = t.inResponseTo ? ` InResponseTo="${escape(t.inResponseTo)}"` : '';
  const audience = t.noAudience ? ''
    : `<saml:AudienceRestriction><saml:Audience>${escape(t.audience)}</saml:Audience></saml:AudienceRestriction>`;
  const nameId = t.noNameId ? ''
    : `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${escape(t.nameId)}</saml:NameID>`;
  const values = { email: [t.email], first_name: ['Ada'], last_name: ['Lovelace'] };
  if (t.groups.length) values.groups = t.groups;
  // An attacker's ordering: the extra value comes first, where a "first value wins" SP reads.
  if (t.secondValue) values[t.secondValue] = [t.other, ...(values[t.secondValue] || [])];
  const attributes = Object.entries(values).map(([name, vals]) => attribute(name, vals));
  if (t.repeatAttribute) attributes.unshift(attribute(t.repeatAttribute, [t.other]));
  return '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
    + ` ID="${t.id}" Version="2.0" IssueInstant="${t.issued}" Destination="${escape(t.destination)}"${irt}>`
    + `<saml:Issuer>${escape(t.issuer)}</saml:Issuer>`
    + '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
    + `<saml:Assertion ID="${t.assertionId}" Version="2.0" IssueInstant="${t.issued}">`
    + `<saml:Issuer>${escape(t.issuer)}</saml:Issuer>`
    + `<saml:Subject>${nameId}<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">`
    + `<saml:SubjectConfirmationData NotOnOrAfter="${t.notOnOrAfter}" Recipient="${escape(t.recipient)}"${irt}/>`
    + '</saml:SubjectConfirmation></saml:Subject>'
    + `<saml:Conditions NotBefore="${t.notBefore}" NotOnOrAfter="${t.notOnOrAfter}">${audience}</saml:Conditions>`
    + `<saml:AuthnStatement AuthnInstant="${t.issued}" SessionIndex="_session${t.assertionId}">`
    + `<saml:AuthnContext><saml:AuthnContextClassRef>${escape(t.authnContext)}</saml:AuthnContextClassRef></saml:AuthnContext>`
    + '</saml:AuthnStatement>'
    + `<saml:AttributeStatement>${attributes.join('')}</saml:AttributeStatement>`
    + '</saml:Assertion></samlp:Response>';
}

async function buildResponse(sp, requestId, q) {
  const c = q.case || 'ok';
  const key = q.key || (c === 'attacker_key' ? 'attacker' : 'idp');
  const flavour = c === 'sha1' ? 'sha1' : q.encrypt ? 'encrypted' : 'sha256';
  const idp = identityProviders[`${key}/${flavour}`];
  const acs = sp.entityMeta.getAssertionConsumerService('post');
  const user = q.user || 'ada@acme.test';
  const t = {
    id: `_${crypto.randomUUID()}`,
    assertionId: `_${crypto.randomUUID()}`,
    issuer: idp.entityMeta.getEntityID(),
    audience: sp.entityMeta.getEntityID(),
    destination: acs,
    recipient: acs,
    inResponseTo: requestId,
    nameId: q.nameid || user,
    email: user,
    groups: q.groups ? q.groups.split(',') : [],
    repeatAttribute: q.repeat_attribute || '',
    secondValue: q.second_value || '',
    other: q.other || 'mallory@acme.test',
    authnContext: q.authn_context || 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
    issued: instant(0),
    notBefore: instant(-60e3),
    notOnOrAfter: instant(5 * 60e3),
  };
  if (c === 'wrong_audience') t.audience = 'https://evil.test/sp';
  if (c === 'no_audience') t.noAudience = true;
  if (c === 'no_nameid') t.noNameId = true;
  if (c === 'wrong_destination') t.destination = t.recipient = 'https://evil.test/acs';
  if (c === 'expired') Object.assign(t, { issued: instant(-20 * 60e3), notBefore: instant(-21 * 60e3), notOnOrAfter: instant(-10 * 60e3) });
  if (c === 'not_yet_valid') Object.assign(t, { issued: instant(10 * 60e3), notBefore: instant(10 * 60e3), notOnOrAfter: instant(20 * 60e3) });
  const { context } = await idp.createLoginResponse(
    sp, { extract: { request: { id: requestId } } }, 'post', { email: t.email },
    { customTagReplacement: () => ({ id: t.id, context: responseXml(t) }) },
  );
  const out = { acs, id: t.id, assertionId: t.assertionId };
  if (q.encrypt) return { ...out, SAMLResponse: context };
  let xml = Buffer.from(context, 'base64').toString('utf8');
  if (c === 'unsigned') xml = xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, '');
  if (c === 'tampered') xml = xml.split(`>${t.email}<`).join('>mallory@acme.test<');
  if (c === 'xsw') {
    // Signature wrapping: the genuine signed assertion moves into <samlp:Extensions>, and an
    // unsigned copy naming someone else (same ID) takes its place.
    const signed = xml.match(/<saml:Assertion[\s\S]*<\/saml:Assertion>/)[0];
    const forged = signed.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '')
      .split(`>${t.email}<`).join('>mallory@acme.test<');
    xml = xml.replace(signed, forged)
      .replace('</samlp:Status>', `</samlp:Status><samlp:Extensions>${signed}</samlp:Extensions>`);
  }
  return { ...out, SAMLResponse: Buffer.from(xml).toString('base64') };
}

async function readBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

async function handle(req, res) {
  const url = new URL(req.url, base);
  const q = Object.fromEntries(url.searchParams);
  const send = (status, type, body) => { res.writeHead(status, { 'content-type': type }); res.end(body); };
  const json = (body) => send(200, 'application/json', JSON.stringify(body));

  if (req.method === 'POST' && url.pathname === '/sp') {
    // Gatehouse demands signed logout messages; samlify signs them only when told to.
    const sp = saml.ServiceProvider({
      metadata: await readBody(req), wantLogoutRequestSigned: true, wantLogoutResponseSigned: true,
    });
    serviceProviders.set(sp.entityMeta.getEntityID(), sp);
    return json({ entityID: sp.entityMeta.getEntityID() });
  }
  if (url.pathname === '/metadata') {
    return send(200, 'application/samlmetadata+xml', metadataWith((q.certs || 'idp').split(',')));
  }
  if (url.pathname === '/sso') {
    const request = zlib.inflateRawSync(Buffer.from(q.SAMLRequest, 'base64')).toString();
    const issuer = (request.match(/<saml:Issuer[^>]*>([^<]+)</) || [])[1];
    const sp = serviceProviders.get(issuer);
    if (!sp) return send(400, 'text/plain', `unknown SP ${issuer}`);
    // The signed octet string is the raw query (SAMLRequest, RelayState, SigAlg) in wire order.
    const octetString = url.search.slice(1).split('&')
      .filter((p) => /^(SAMLRequest|RelayState|SigAlg)=/.test(p)).join('&');
    const parsed = await identityProviders['idp/sha256'].parseLoginRequest(sp, 'redirect', { query: q, octetString });
    const requestId = parsed.extract.request.id;
    const r = await buildResponse(sp, requestId, q);
    if (q.format === 'html') {
      // What a browser gets from a real IdP after signing in: a form that posts itself to the ACS.
      const relay = q.RelayState ? `<input type="hidden" name="RelayState" value="${escape(q.RelayState)}">` : '';
      return send(200, 'text/html', '<!doctype html><title>Test IdP</title>'
        + `<body onload="document.forms[0].submit()"><form method="post" action="${escape(r.acs)}">`
        + `<input type="hidden" name="SAMLResponse" value="${r.SAMLResponse}">${relay}`
        + '<noscript><button>Continue</button></noscript></form></body>');
    }
    return json({ ...r, RelayState: q.RelayState || null, requestId });
  }
  if (url.pathname === '/idp-initiated') {
    const sp = serviceProviders.get(q.sp);
    if (!sp) return send(400, 'text/plain', 'unknown SP');
    return json({ ...(await buildResponse(sp, null, q)), RelayState: q.RelayState || null });
  }
  if (url.pathname === '/slo' && q.SAMLRequest) {
    // The SP's own LogoutRequest (SP-initiated single logout): verify its signature and say
    // whom it names, as JSON, instead of ending an IdP session this test IdP does not keep.
    const request = zlib.inflateRawSync(Buffer.from(q.SAMLRequest, 'base64')).toString();
    const issuer = (request.match(/<saml:Issuer[^>]*>([^<]+)</) || [])[1];
    const sp = serviceProviders.get(issuer);
    if (!sp) return send(400, 'text/plain', `unknown SP ${issuer}`);
    const octetString = url.search.slice(1).split('&')
      .filter((p) => /^(SAMLRequest|RelayState|SigAlg)=/.test(p)).join('&');
    const idp = identityProviders['idp/sha256'];
    const parsed = await idp.parseLogoutRequest(sp, 'redirect', { query: q, octetString });
    const answer = idp.createLogoutResponse(sp, parsed, 'redirect', q.RelayState || '');
    return json({
      nameID: parsed.extract.nameID, sessionIndex: parsed.extract.sessionIndex, issuer,
      responseUrl: answer.context,
    });
  }
  if (url.pathname === '/logout-request') {
    const sp = serviceProviders.get(q.sp);
    if (!sp) return send(400, 'text/plain', 'unknown SP');
    const { context } = identityProviders[`${q.key || 'idp'}/sha256`].createLogoutRequest(
      sp, 'redirect', { logoutNameID: q.user || 'ada@acme.test' },
    );
    return json({ url: context });
  }
  return send(404, 'text/plain', 'not found');
}

const server = http.createServer((req, res) => handle(req, res).catch((err) => {
  res.writeHead(400, { 'content-type': 'text/plain' });
  res.end(String((err && err.message) || err));
}));
server.listen(0, '127.0.0.1', () => {
  base = `http://127.0.0.1:${server.address().port}`;
  makeIdentityProviders();
  process.stdout.write(`${JSON.stringify({ port: server.address().port, entityId: `${base}/metadata` })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
