// The Compliance page in a real browser (Debian's chromium, headless,
// through playwright-core, with axe-core). Run by runtime_web_browser
// after pipelines.mjs, on the same serve:
//   node compliance.mjs BASE_URL COMPLIANCE_TOKEN WARD_CLINICIAN_TOKEN ADMIN_TOKEN SHOT_DIR CARELAKE DATA_DIR
// A clinician of Ward-D reads a patient of ICU-A once refused and once
// breaking the glass; then, signed in as compliance (landing on
// /compliance), the page must show the chain intact as `carelake audit
// verify` finds it, the break-glass read with its reason (acknowledged
// from the page, the ack then recorded with who), that clinician's
// accesses equal to what `carelake audit query` counts, and the trail
// searched by user and by break-glass; axe-core, no console error and
// no failed request; a clinician may not open the page or its APIs.
// Exits 0 when every check held, else 1 naming what failed.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const [base, compliance, wardClin, admin, shots, carelake, data] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const REASON = 'Cardiac arrest call, covering ICU-A';
const problems = [];
const step = (what) => process.stderr.write(`compliance.mjs: ${what}\n`);

function fail(what) {
  problems.push(what);
  step('FAILED: ' + what);
}

const cli = (...args) => execFileSync(carelake, [...args, '--data', data], { encoding: 'utf8' });

async function get(path, token, headers) {
  return fetch(base + path, { headers: Object.assign({ Authorization: 'Bearer ' + token }, headers || {}) });
}

step('a clinician of Ward-D reads an ICU-A patient: refused, then breaking the glass');
if ((await get('/api/v1/patients/patient-0001/vitals', wardClin)).status !== 403)
  fail('a read outside the wards was not refused');
const bg = await get('/api/v1/patients/patient-0001/vitals', wardClin, { 'X-Break-Glass': REASON });
if (bg.status !== 200)
  fail('breaking the glass: HTTP ' + bg.status);

const browser = await chromium.launch({
  executablePath: process.env.CARELAKE_CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox'],   // runs as root in CI's container
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') fail('console error: ' + m.text()); });
  page.on('pageerror', (e) => fail('page error: ' + e.message));
  page.on('requestfailed', (r) => fail('request failed: ' + r.url() + ' ' + r.failure().errorText));
  page.on('response', (r) => { if (r.status() >= 400) fail('HTTP ' + r.status() + ' for ' + r.url()); });

  step('signing in as compliance');
  await page.goto(base + '/');
  await page.fill('#token', compliance);
  await page.click('#signin-form button[type=submit]');
  await page.waitForURL(base + '/compliance');
  await page.locator('body[data-ready]').waitFor({ timeout: 20000 });

  step('the chain, against carelake audit verify');
  const v = JSON.parse(cli('audit', 'verify', '--json'));
  if (await page.locator('#chain').getAttribute('data-ok') !== 'true' || !v.ok)
    fail('the chain is not shown intact: ' + await page.locator('#chain').textContent());
  const shown = Number(await page.locator('#chain').getAttribute('data-records'));
  if (!(shown > 0 && shown <= v.records))
    fail(`the page checked ${shown} records, carelake audit verify ${v.records}`);

  step('the break-glass read, acknowledged');
  const li = page.locator('#glass li', { hasText: REASON });
  if (await li.count() !== 1)
    fail('the break-glass read is not listed with its reason');
  const id = await li.getAttribute('data-id');
  const principal = (await (await get('/api/v1/access-alerts?limit=1000', admin)).json())
    .access_alerts.find((a) => String(a.id) === id).principal;
  await li.locator('button').click();
  await page.locator(`#glass li[data-id="${id}"]`).waitFor({ state: 'detached', timeout: 10000 });
  const acked = (await (await get('/api/v1/access-alerts?limit=1000', admin)).json())
    .access_alerts.find((a) => String(a.id) === id);
  if (!acked || acked.open || !acked.acknowledged_by)
    fail('the acknowledgement was not recorded: ' + JSON.stringify(acked));

  step('accesses per user, against carelake audit query');
  const recs = JSON.parse(cli('audit', 'query', '--principal', principal, '--format', 'json'));
  const want = {
    requests: recs.length,
    patients: new Set(recs.flatMap((r) => (r.patients ? r.patients.split(',') : []))).size,
    breakGlass: recs.filter((r) => r.break_glass).length,
    refused: recs.filter((r) => r.status === 401 || r.status === 403).length,
  };
  const tr = page.locator(`#users tr[data-principal="${principal}"]`);
  if (await tr.count() !== 1) {
    fail('no row for ' + principal);
  } else {
    const d = await tr.evaluate((e) => ({ ...e.dataset }));
    for (const k of Object.keys(want))
      if (Number(d[k]) !== want[k])
        fail(`${principal} ${k}: the page shows ${d[k]}, the trail has ${want[k]}`);
    if (!(want.breakGlass >= 1 && want.refused >= 1 && want.patients >= 1))
      fail('the trail lacks the clinician\'s reads: ' + JSON.stringify(want));
  }

  step('searching the trail');
  let ready = await page.locator('#trail').getAttribute('data-ready');
  await tr.locator('button').click();
  await page.waitForFunction((r) => document.querySelector('#trail').dataset.ready !== r, ready);
  const users = await page.locator('#trail tbody tr[data-seq]').evaluateAll((rows) => rows.map((r) => r.dataset.user));
  if (!users.length || users.some((u) => u !== principal))
    fail('the search by user shows others: ' + [...new Set(users)].join(', '));
  if (Number(await page.locator('#trail').getAttribute('data-total')) !== want.requests)
    fail(`the search by user finds ${await page.locator('#trail').getAttribute('data-total')}, ` +
         `the trail has ${want.requests}`);
  ready = await page.locator('#trail').getAttribute('data-ready');
  await page.fill('#agent', '');
  await page.selectOption('#subtype', 'break-glass');
  await page.click('#search button[type=submit]');
  await page.waitForFunction((r) => document.querySelector('#trail').dataset.ready !== r, ready);
  if (await page.locator('#trail tbody tr[data-seq]', { hasText: REASON }).count() < 1)
    fail('the break-glass search does not show the read with its reason');

  step('checking accessibility (axe-core)');
  await page.evaluate(axeSource);
  const axe = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  for (const x of axe.violations)
    if (x.impact === 'serious' || x.impact === 'critical')
      fail(`axe ${x.impact}: ${x.id}: ${x.help} (${x.nodes.length} nodes: ` +
           x.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(', ') + ')');
  await page.screenshot({ path: shots + '/compliance-1920x1080.png', fullPage: true });
  await ctx.close();

  step('a clinician may not open the page or its reports');
  for (const path of ['/compliance', '/api/v1/audit/verify', '/api/v1/audit/accesses'])
    if ((await get(path, wardClin)).status !== 403)
      fail('a clinician reached ' + path);
} catch (e) {
  fail('stopped: ' + (e.stack || e));
} finally {
  await browser.close();
}
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log('compliance ok');
