// Signing in to the dashboards at an identity provider (the OpenID Connect
// code flow with PKCE), in a real browser: Debian's chromium, headless,
// through playwright-core. Run by runtime_web_browser:
//   node oidc.mjs CARELAKE DATA_DIR SHOT_DIR
// Starts a small provider of its own on a loopback port (an authorization
// endpoint that signs in whoever the test says, a token endpoint that
// checks the PKCE verifier against the challenge and answers a JWT signed
// by jose, an implementation independent of carelake's) and a `carelake
// serve` set up for it; then: serve refuses to start with a client id but
// no endpoints; the sign-in page offers the provider; a clinician signs
// in there and lands on the board with a session cookie (HttpOnly,
// SameSite=Strict), no token in any URL; signs out; a patient lands on
// My health; a callback of a state this browser never began, the
// provider refusing, and a token whose role carelake does not know each
// end on the sign-in page saying why, with no session. Exits 0 when every
// check held, else 1 naming what failed.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const { SignJWT, exportJWK, generateKeyPair } =
  await import(new URL('../jose/node_modules/jose/dist/webapi/index.js', import.meta.url));
const [carelake, data, shots] = process.argv.slice(2);
const problems = [];
const step = (what) => process.stderr.write(`oidc.mjs: ${what}\n`);

function fail(what) {
  problems.push(what);
  step('FAILED: ' + what);
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// a free loopback port for carelake (the redirect URI names it)
const port = await new Promise((resolve) => {
  const s = netServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const BASE = `http://127.0.0.1:${port}`;
const CALLBACK = BASE + '/app/oidc/callback';

// ---- the provider ----
const keys = await generateKeyPair('ES256');
const jwks = `${data}.jwks.json`;
writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
const idp = { user: null, deny: false, codes: new Map(), issued: [], pkce: 0 };
const server = createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (req.method === 'GET' && u.pathname === '/authorize') {
    const q = u.searchParams;
    const bad = q.get('response_type') !== 'code' ? 'response_type' : q.get('client_id') !== 'carelake-web'
      ? 'client_id' : q.get('redirect_uri') !== CALLBACK ? 'redirect_uri'
      : q.get('code_challenge_method') !== 'S256' ? 'code_challenge_method'
      : !/^[A-Za-z0-9_-]{43}$/.test(q.get('code_challenge') || '') ? 'code_challenge'
      : !q.get('state') ? 'state' : !(q.get('scope') || '').split(' ').includes('openid') ? 'scope' : null;
    if (bad) {
      fail('the authorization request has a bad ' + bad + ': ' + req.url);
      res.writeHead(400).end();
      return;
    }
    const back = new URL(CALLBACK);
    back.searchParams.set('state', q.get('state'));
    if (idp.deny) {
      back.searchParams.set('error', 'access_denied');
    } else {
      const code = b64url(randomBytes(24));
      idp.codes.set(code, { challenge: q.get('code_challenge'), user: idp.user });
      back.searchParams.set('code', code);
    }
    res.writeHead(302, { Location: back.toString() }).end();
    return;
  }
  if (req.method === 'POST' && u.pathname === '/token') {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', async () => {
      const f = new URLSearchParams(body);
      const c = idp.codes.get(f.get('code'));
      idp.codes.delete(f.get('code'));   // a code is good once
      const verifier = f.get('code_verifier') || '';
      const ok = c && f.get('grant_type') === 'authorization_code' && f.get('client_id') === 'carelake-web' &&
        f.get('redirect_uri') === CALLBACK && b64url(createHash('sha256').update(verifier).digest()) === c.challenge;
      if (!ok) {
        res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"invalid_grant"}');
        return;
      }
      idp.pkce++;
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ sub: c.user.sub, roles: [c.user.role], ...(c.user.claims || {}) })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' })
        .setIssuer(ISSUER).setAudience('carelake-web').setIssuedAt(now).setExpirationTime(now + 600)
        .sign(keys.privateKey);
      idp.issued.push(token);
      res.writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 600 }));
    });
    return;
  }
  res.writeHead(404).end();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const ISSUER = `http://127.0.0.1:${server.address().port}`;

const settings = ['--set', `auth.oidc.issuer=${ISSUER}`, '--set', 'auth.oidc.audience=carelake-web',
  '--set', `auth.oidc.jwks=${jwks}`, '--set', 'auth.oidc.client_id=carelake-web'];
const flow = ['--set', `auth.oidc.authorization_endpoint=${ISSUER}/authorize`,
  '--set', `auth.oidc.token_endpoint=${ISSUER}/token`, '--set', `auth.oidc.redirect_uri=${CALLBACK}`,
  '--set', 'auth.oidc.scope=openid profile'];

step('serve refuses a client id without its endpoints');
const bad = spawnSync(carelake, ['serve', '--data', data + '-bad', '--listen', '127.0.0.1:0', ...settings],
  { encoding: 'utf8', timeout: 20000 });
if (bad.status === 0 || !/authorization_endpoint/.test(bad.stderr))
  fail('serve started with a client id and no endpoints: ' + bad.status + ' ' + bad.stderr.slice(-300));

step('starting serve for the provider');
const srv = spawn(carelake, ['serve', '--data', data, '--listen', `127.0.0.1:${port}`,
  '--set', 'ingest.inputs=events', ...settings, ...flow], { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
srv.stdout.on('data', (d) => { out += d; });
srv.stderr.on('data', (d) => { out += d; });
for (let i = 0; i < 200 && !out.includes('listening on'); i++)
  await new Promise((r) => setTimeout(r, 50));

const browser = await chromium.launch({
  executablePath: process.env.CARELAKE_CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox'],   // runs as root in CI's container
});

// signs in at the provider as `user`; the page where it ends and every URL
// the browser went through
async function signIn(user) {
  idp.user = user;
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('pageerror', (e) => fail('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') fail('console error: ' + m.text()); });
  await page.goto(BASE + '/');
  await page.locator('#oidc-link').waitFor({ state: 'visible', timeout: 10000 });
  await page.click('#oidc-link');
  await page.waitForLoadState('networkidle');
  return { ctx, page, urls };
}

try {
  step('a clinician signs in at the provider');
  let { ctx, page, urls } = await signIn({ sub: 'dr-oidc', role: 'clinician' });
  await page.waitForURL(BASE + '/board', { timeout: 10000 });
  if (idp.pkce !== 1)
    fail('the token endpoint did not see a verifier matching the challenge');
  const cookies = await ctx.cookies();
  const c = cookies.find((k) => k.name === 'carelake_session');
  if (!c || !c.httpOnly || c.sameSite !== 'Strict')
    fail('no HttpOnly, SameSite=Strict session cookie: ' + JSON.stringify(cookies));
  if (cookies.some((k) => k.name === 'carelake_oidc' && k.value))
    fail('the sign-in state cookie outlived the sign-in');
  const token = idp.issued[idp.issued.length - 1];
  if (urls.some((u) => u.includes(token) || u.includes(token.split('.')[1])))
    fail('the token went in a URL');
  await page.locator('#who', { hasText: 'clinician' }).waitFor({ timeout: 10000 });
  await page.screenshot({ path: shots + '/oidc-board.png' });
  step('signing out');
  await page.click('#signout');
  await page.waitForURL(BASE + '/');
  await page.locator('#signin').waitFor({ state: 'visible' });
  if ((await page.request.get(BASE + '/api/v1/alerts')).status() !== 401)
    fail('the session outlived signing out');
  await ctx.close();

  step('a patient lands on My health');
  ({ ctx, page } = await signIn({ sub: 'pat-oidc', role: 'patient', claims: { patient: 'p-oidc' } }));
  await page.waitForURL(BASE + '/my-health', { timeout: 10000 });
  await ctx.close();

  const refusals = [
    ['a callback of a state this browser never began', null, 'not begun in this browser'],
    ['the provider refusing', { deny: true }, 'did not sign you in'],
    ['a token whose role carelake does not know', { user: { sub: 'x', role: 'janitor' } }, 'not accepted by carelake'],
  ];
  for (const [what, how, says] of refusals) {
    step(what);
    ctx = await browser.newContext();
    page = await ctx.newPage();
    page.on('pageerror', (e) => fail('page error: ' + e.message));
    if (!how) {
      await page.goto(`${CALLBACK}?code=abc&state=${'0'.repeat(32)}`);
    } else {
      idp.deny = !!how.deny;
      idp.user = how.user || null;
      await page.goto(BASE + '/');
      await page.locator('#oidc-link').waitFor({ state: 'visible' });
      await page.click('#oidc-link');
    }
    await page.waitForURL(/\/\?error=oidc-/, { timeout: 10000 });
    await page.locator('#signin-error', { hasText: says }).waitFor({ timeout: 10000 })
      .catch(async () => fail(what + ': the page says ' + await page.locator('#signin-error').textContent()));
    if ((await ctx.cookies()).some((k) => k.name === 'carelake_session'))
      fail(what + ': a session cookie was set');
    idp.deny = false;
    await ctx.close();
  }
} catch (e) {
  fail('stopped: ' + (e.stack || e));
} finally {
  await browser.close();
  server.close();
  srv.kill('SIGTERM');
  await new Promise((r) => srv.on('exit', r));
}
if (out.includes(idp.issued[0] || 'no token issued'))
  fail('a token is in serve\'s log');
if (problems.length) {
  console.log(problems.join('\n'));
  console.log('serve said:\n' + out.slice(-2000));
  process.exit(1);
}
console.log('oidc ok');
