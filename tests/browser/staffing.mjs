// The Staffing and clinic operations page in a real browser (Debian's
// chromium, headless, through playwright-core, with axe-core). Run by
// runtime_web_browser after hospital.mjs, on the same serve and data:
//   node staffing.mjs BASE_URL MANAGER_TOKEN SHOT_DIR CARELAKE DATA_DIR
// Signs in as a manager, opens the page from the Hospital page, chooses
// the last 90 days, and checks staffing by ward and role, bookings and
// no-shows by channel, messages by channel and the survey months against
// `carelake query` over the gold tables; then one ward; axe-core, no
// console error and no failed request. Exits 0 when every check held,
// else 1 naming what failed.
import { checkAxe, close, launch, query as carelakeQuery, report, signIn, watchedPage } from './lib.mjs';

const [base, manager, shots, carelake, data] = process.argv.slice(2);
const DAY = 86400000;
const { step, fail, done } = report('staffing.mjs');

const query = (sql) => carelakeQuery(carelake, data, sql);

const num = (s) => (s === '' || s === null ? null : Number(s));
const to = new Date().toISOString().slice(0, 10);
const from = new Date(Date.now() - 89 * DAY).toISOString().slice(0, 10);
const inRange = (col) => `${col} >= '${from}' AND substr(${col}, 1, 10) <= '${to}'`;

async function checkStaffing(page, ward) {
  const want = query(`SELECT ward, role, count(*) AS n, 1.0 * sum(staffed) / nullif(sum(required), 0) AS cov, ` +
    `1.0 * sum(patients) / nullif(sum(staffed), 0) AS pps FROM gold_staffing WHERE ${inRange('shift_start')}` +
    (ward ? ` AND ward = '${ward}'` : '') + ' GROUP BY ward, role');
  const rows = page.locator('#staffing tbody tr[data-ward]');
  if (await rows.count() !== want.length)
    fail(`${ward || 'all wards'}: ${await rows.count()} staffing rows, gold has ${want.length}`);
  for (const w of want) {
    const tr = page.locator(`#staffing tr[data-ward="${w.ward}"][data-role="${w.role}"]`);
    if (await tr.count() !== 1) {
      fail(`no staffing row for ${w.ward} ${w.role}`);
      continue;
    }
    const d = await tr.evaluate((e) => ({ ...e.dataset }));
    if (Number(d.shifts) !== w.n || !close(num(d.coverage), w.cov) || !close(num(d.perStaff), w.pps))
      fail(`${w.ward} ${w.role}: shows ${JSON.stringify(d)}, gold has ${JSON.stringify(w)}`);
  }
  return want.length;
}

const browser = await launch();
try {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await watchedPage(ctx, fail);

  step('signing in as a manager, opening the page from the Hospital page');
  await signIn(page, base, manager, '/hospital');
  // the Hospital page's reads done before leaving it (else cancelled)
  await page.locator('#status[data-ready]').waitFor({ timeout: 20000 });
  await page.click('a[href="/staffing"]');
  await page.waitForURL(base + '/staffing');
  await page.locator('#status[data-ready]').waitFor({ timeout: 20000 });

  step('the last 90 days, against carelake query');
  let ready = await page.locator('#status').getAttribute('data-ready');
  await page.fill('#from', from);
  await page.fill('#to', to);
  await page.click('#filters button[type=submit]');
  await page.waitForFunction((r) => document.querySelector('#status').dataset.ready !== r, ready);
  if (await checkStaffing(page, null) === 0)
    fail('the test data has no shifts in the range');

  for (const b of query(`SELECT channel, sum(bookings) AS n, 1.0 * sum(no_shows) / nullif(sum(attended) + ` +
      `sum(no_shows), 0) AS rate FROM gold_bookings_daily WHERE ${inRange('day')} GROUP BY channel`)) {
    const tr = page.locator(`#bookings tr[data-channel="${b.channel}"]`);
    const d = (await tr.count()) ? await tr.evaluate((e) => ({ ...e.dataset })) : null;
    if (!d || Number(d.bookings) !== b.n || !close(num(d.noShowRate), b.rate))
      fail(`bookings by ${b.channel}: shows ${JSON.stringify(d)}, gold has ${JSON.stringify(b)}`);
  }
  for (const c of query(`SELECT channel, sum(messages) AS n FROM gold_communications_daily ` +
      `WHERE ${inRange('day')} GROUP BY channel`)) {
    const tr = page.locator(`#communications tr[data-channel="${c.channel}"]`);
    const got = (await tr.count()) ? Number(await tr.getAttribute('data-messages')) : null;
    if (got !== c.n)
      fail(`messages by ${c.channel}: shows ${got}, gold has ${c.n}`);
  }
  const months = query(`SELECT count(*) AS n FROM gold_survey_monthly WHERE month BETWEEN ` +
                       `'${from.slice(0, 7)}' AND '${to.slice(0, 7)}'`)[0].n;
  if (await page.locator('#surveys tbody tr[data-month]').count() !== months)
    fail(`${await page.locator('#surveys tbody tr[data-month]').count()} survey rows, gold has ${months}`);

  step('one ward');
  ready = await page.locator('#status').getAttribute('data-ready');
  await page.selectOption('#ward', 'ICU-A');
  await page.waitForFunction((r) => document.querySelector('#status').dataset.ready !== r, ready);
  await checkStaffing(page, 'ICU-A');

  step('checking accessibility (axe-core)');
  await checkAxe(page, fail);
  await page.screenshot({ path: shots + '/staffing-1920x1080.png', fullPage: true });
  await ctx.close();
} catch (e) {
  fail('stopped: ' + (e.stack || e));
} finally {
  await browser.close();
}
done('staffing ok');
