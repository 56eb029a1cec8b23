// The ICU board in a real browser: Debian's chromium, headless, driven by
// playwright-core (which downloads no browser of its own), checked with
// axe-core. Run by runtime_web_browser (tests/runtime/test_web_browser.c),
// which starts `carelake serve` with simulated patients and one patient
// named as markup, and passes:
//   node board.mjs BASE_URL CLINICIAN_TOKEN PATIENT_TOKEN ADMIN_TOKEN SHOT_DIR PATIENTS
// Prints `alert_delay_ms=N` (from posting a crisis reading to its alert on
// the board; reported, never asserted) and exits 0 when every check held,
// else 1 naming what failed.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const [base, clinician, patientTok, admin, shots, count] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const XSS = '<img src=x onerror=alert(1)>';
const problems = [];
const step = (what) => process.stderr.write(`board.mjs: ${what}\n`);

function fail(what) {
  problems.push(what);
  step('FAILED: ' + what);
}

async function signIn(page, token) {
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('#signin-form button[type=submit]');
}

async function postEvent(ev) {
  const r = await fetch(base + '/api/v1/events', {
    method: 'POST', body: JSON.stringify(ev),
    headers: { Authorization: 'Bearer ' + admin, 'Content-Type': 'application/json' },
  });
  if (r.status !== 200)
    throw new Error('posting an event: HTTP ' + r.status + ' ' + await r.text());
}

const browser = await chromium.launch({
  executablePath: process.env.CARELAKE_CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox'],   // runs as root in CI's container
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await ctx.newPage();
  let watching = true;
  page.on('console', (m) => { if (watching && m.type() === 'error') fail('console error: ' + m.text()); });
  page.on('pageerror', (e) => { if (watching) fail('page error: ' + e.message); });
  page.on('dialog', (d) => { fail('a dialog opened (script ran from data?): ' + d.message()); d.dismiss(); });
  page.on('requestfailed', (r) => { if (watching) fail('request failed: ' + r.url() + ' ' + r.failure().errorText); });
  page.on('response', (r) => { if (watching && r.status() >= 400) fail('HTTP ' + r.status() + ' for ' + r.url()); });

  step('signing in as a clinician');
  await signIn(page, clinician);
  await page.waitForURL(base + '/board');
  const cookies = await ctx.cookies();
  const c = cookies.find((k) => k.name === 'carelake_session');
  if (!c || !c.httpOnly || c.sameSite !== 'Strict')
    fail('the session cookie is not HttpOnly and SameSite=Strict: ' + JSON.stringify(c));
  if (page.url().includes(clinician))
    fail('the token is in the URL');

  step('waiting for the tiles');
  await page.waitForFunction((n) => document.querySelectorAll('#beds li.tile').length >= n,
    Number(count), { timeout: 20000 });
  const xss = page.locator('li.tile[data-patient="web-xss"] h2');
  await xss.waitFor({ timeout: 20000 });
  if (await xss.textContent() !== XSS)
    fail('the patient named as markup does not show its name as text: ' + await xss.textContent());
  if (await page.locator('#beds img').count() !== 0)
    fail('markup from data became an element');
  const tile = page.locator('li.tile').first();
  for (const sel of ['.news2', '.vitals dd', '.age', '.spark'])
    if (await tile.locator(sel).count() === 0)
      fail('a tile has no ' + sel);

  step('waiting for the board to be live');
  await page.locator('#live.on').waitFor({ timeout: 20000 });

  await page.click('#sound');   // the audible cue on
  if (await page.locator('#sound').getAttribute('aria-pressed') !== 'true')
    fail('the sound button does not turn the cue on');

  step('posting a crisis reading (SpO2 82)');
  const alertSel = 'li.tile[data-patient="web-crisis"] li.alert';
  const before = await page.locator(alertSel).count();
  const t0 = Date.now();
  await postEvent({ id: 'web-crisis-1', device_id: 'web-monitor-crisis', patient_id: 'web-crisis',
                    ts: new Date().toISOString(), type: 'spo2', value: 82, unit: '%' });
  await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length > n,
    [alertSel, before], { timeout: 30000, polling: 20 });
  const delay = Date.now() - t0;
  console.log('alert_delay_ms=' + delay);
  if (!(await page.locator('li.tile[data-patient="web-crisis"]').getAttribute('class')).includes('flash'))
    fail('the tile of a new alert has no visible cue');
  if (!(Number(await page.locator('body').getAttribute('data-tones')) >= 1))
    fail('the new alert made no tone with the sound on');
  const first = await page.locator('#beds li.tile').first().getAttribute('data-patient');
  if (first !== 'web-crisis')
    step('note: the crisis tile is not first (' + first + ' is: another bed has a worse alert)');

  step('its NEWS2 pushed: 3 from SpO2 82, marked partial (SpO2 alone)');
  // pushed by the stream, not read again: well within the board's old
  // five-second re-read
  await page.locator('li.tile[data-patient="web-crisis"] .news2', { hasText: 'NEWS2 3 (partial)' })
    .waitFor({ timeout: 4000 * (Number(process.env.CARELAKE_TEST_SLOWDOWN) || 1) })
    .catch(() => fail('the NEWS2 of SpO2 82 was not pushed to the tile'));

  step('acknowledging it');
  await page.locator(alertSel + ' button').first().click();
  await page.locator(alertSel + ' .acked', { hasText: 'acknowledged by' }).first()
    .waitFor({ timeout: 10000 });

  step('checking accessibility (axe-core)');
  await page.evaluate(axeSource);   // evaluated by the debugger: the page's CSP stays whole
  const axe = await page.evaluate(() => window.axe.run(document, {
    resultTypes: ['violations'] }));
  for (const v of axe.violations)
    if (v.impact === 'serious' || v.impact === 'critical')
      fail(`axe ${v.impact}: ${v.id}: ${v.help} (${v.nodes.length} nodes: ` +
           v.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(', ') + ')');

  await page.screenshot({ path: shots + '/board-1920x1080.png' });
  await page.setViewportSize({ width: 820, height: 1180 });
  await page.screenshot({ path: shots + '/board-tablet.png' });

  step('a patient cannot reach the board');
  const pctx = await browser.newContext();
  const ppage = await pctx.newPage();
  await signIn(ppage, patientTok);
  await ppage.waitForURL(base + '/my-health');   // the one page a patient has
  await ppage.goto(base + '/');
  await ppage.locator('#home').waitFor({ state: 'visible' });
  const offered = await ppage.locator('#pages li').allTextContents();
  if (offered.join() !== 'My health')
    fail('a patient is offered other pages than My health: ' + offered.join());
  const r = await ppage.goto(base + '/board');
  if (r.status() !== 403)
    fail('a patient opening /board by URL got ' + r.status() + ', not 403');
  const body = await ppage.content();
  if (body.includes('beds'))
    fail('the board reached a patient');
  await pctx.close();

  step('signing out');
  watching = false;   // leaving the page ends its event stream
  await page.click('#signout');
  await page.waitForURL(base + '/');
  await page.locator('#signin').waitFor({ state: 'visible' });
  const after = await ctx.request.get(base + '/api/v1/patients');
  if (after.status() !== 401)
    fail('after signing out the session still reads: ' + after.status());
  if ((await ctx.cookies()).some((k) => k.name === 'carelake_session' && k.value))
    fail('the session cookie is still there after signing out');
  await ctx.close();
} catch (e) {
  fail('stopped: ' + (e.stack || e));
} finally {
  await browser.close();
}
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log('board ok');
