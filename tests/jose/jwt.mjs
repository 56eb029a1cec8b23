// Mints the OpenID Connect tokens of carelake's runtime test with jose (an
// implementation independent of carelake's): an RS256 and an ES256 key made
// afresh on every run, their JWKS written to OUT/jwks.json, and one token of
// each case the test sends written to OUT/tokens.json ({"name": "token"}).
// No private key is written anywhere.
//   usage: node jwt.mjs OUT ISSUER AUDIENCE
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair } from 'jose';
import { writeFileSync } from 'node:fs';

const [out, iss, aud] = process.argv.slice(2);
if (!out || !iss || !aud) {
  console.error('usage: node jwt.mjs OUT ISSUER AUDIENCE');
  process.exit(2);
}
const rs = await generateKeyPair('RS256');
const es = await generateKeyPair('ES256');
const stranger = await generateKeyPair('RS256');
const jwk = async (pair, kid, alg) => ({ ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' });
writeFileSync(`${out}/jwks.json`,
  JSON.stringify({ keys: [await jwk(rs, 'rs-1', 'RS256'), await jwk(es, 'es-1', 'ES256')] }));

const now = Math.floor(Date.now() / 1000);
async function mint(claims, o = {}) {
  const alg = o.alg ?? 'RS256';
  return new SignJWT({ sub: 'user-1', ...claims })
    .setProtectedHeader({ alg, kid: o.kid ?? (alg === 'ES256' ? 'es-1' : 'rs-1'), typ: 'JWT' })
    .setIssuer(o.iss ?? iss)
    .setAudience(o.aud ?? aud)
    .setIssuedAt(now)
    .setNotBefore(o.nbf ?? now - 60)
    .setExpirationTime(o.exp ?? now + 600)
    .sign(o.key ?? (alg === 'ES256' ? es.privateKey : rs.privateKey));
}

const t = {};
t.admin_rs256 = await mint({ roles: ['admin'] });
t.clinician_es256 = await mint({ sub: 'dr-who', roles: ['offline_access', 'clinician'] }, { alg: 'ES256' });
t.engineer = await mint({ roles: 'engineer' });
t.researcher = await mint({ roles: ['researcher'] }, { alg: 'ES256' });
t.patient_p1 = await mint({ sub: 'pat-1', roles: ['patient'], patient: 'p-1' });
t.patient_fhiruser_p2 = await mint({ sub: 'pat-2', roles: 'patient',
  fhirUser: 'https://fhir.example.org/r4/Patient/p-2' }, { alg: 'ES256' });
t.clinician_observations = await mint({ sub: 'dr-obs', roles: ['clinician'],
  scope: 'openid user/Observation.rs' });
t.clinician_patient_cu = await mint({ sub: 'dr-write', roles: ['clinician'],
  scope: 'openid user/Patient.cu' });
t.no_role = await mint({ roles: ['nurse'] });
t.expired = await mint({ roles: ['admin'] }, { exp: now - 3600, nbf: now - 7200 });
t.not_yet_valid = await mint({ roles: ['admin'] }, { nbf: now + 3600, exp: now + 7200 });
t.wrong_issuer = await mint({ roles: ['admin'] }, { iss: 'https://evil.example.org' });
t.wrong_audience = await mint({ roles: ['admin'] }, { aud: 'another-api' });
t.wrong_signature = await mint({ roles: ['admin'] }, { key: stranger.privateKey });
t.unknown_kid = await mint({ roles: ['admin'] }, { kid: 'rs-9' });
t.alg_none = new UnsecuredJWT({ sub: 'user-1', roles: ['admin'] })
  .setIssuer(iss).setAudience(aud).setIssuedAt(now).setExpirationTime(now + 600).encode();
t.hs256 = await new SignJWT({ sub: 'user-1', roles: ['admin'] })
  .setProtectedHeader({ alg: 'HS256', kid: 'rs-1' })
  .setIssuer(iss).setAudience(aud).setExpirationTime(now + 600)
  .sign(new TextEncoder().encode('a shared secret of at least 32 bytes!'));
const [h, p, s] = t.admin_rs256.split('.');
t.malformed_base64 = `${h}.${p.slice(0, 10)}*${p.slice(11)}.${s}`;
t.malformed_parts = `${h}.${p}`;
writeFileSync(`${out}/tokens.json`, JSON.stringify(t, null, 1));
