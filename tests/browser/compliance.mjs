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
import { checkAxe, launch, report, signIn, watchedPage } from './lib.mjs';

const [base, compliance, wardClin, admin, shots, carelake, data] = process.argv.slice(2);
const REASON = 'Cardiac arrest call, covering ICU-A';
const { step, fail, done } = report('compliance.mjs');

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

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await watchedPage(ctx, fail);

  step('signing in as compliance');
  await signIn(page, base, compliance, '/compliance');
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
  await checkAxe(page, fail);
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
done('compliance ok');
