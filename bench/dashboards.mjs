// The dashboards' speed in a real browser (Debian's chromium, headless,
// through playwright-core from tests/browser), against a `carelake serve`
// that bench_dashboards.sh started:
//   node bench/dashboards.mjs BASE_URL CLINICIAN_TOKEN ADMIN_TOKEN SECONDS
// 1. The patient page reading and drawing 7 days of 1-minute rollups
//    (60,480 of them) of one patient: the median of 5 (target < 500 ms);
//    beside it, in the same run, the vitals API read of those rollups as
//    the page asks for them (means) and with every statistic (as the page
//    read them before fields=), each the median of 5 read whole.
// 2. The ICU board with 100 patients: from pressing Sign in to every tile
//    drawn (target < 1 s), then 100 patients at 1 Hz each for SECONDS:
//    each heart-rate reading's delay from its POST leaving the load
//    generator to its value on the patient's tile (a MutationObserver in
//    the page), p50/p99/max, and how many never showed.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const [base, clinician, admin, secsArg] = process.argv.slice(2);
const SECS = Number(secsArg || 30);
const PATIENTS = 100;
const MIN = 60000;
const HIST = 'bench-hist';

async function post(path, body) {
  const r = await fetch(base + path, { method: 'POST', body: JSON.stringify(body),
    headers: { Authorization: 'Bearer ' + admin, 'Content-Type': 'application/json' } });
  if (r.status !== 200)
    throw new Error('POST ' + path + ': HTTP ' + r.status + ' ' + (await r.text()).slice(0, 200));
}

async function get(path) {
  const r = await fetch(base + path, { headers: { Authorization: 'Bearer ' + admin } });
  return r.json();
}

async function until(what, fn, ms) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end)
      throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pct = (a, q) => a[Math.min(a.length - 1, Math.floor(q * a.length))];
const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];

// 7 days of one reading a minute of six vitals, before anything current
const end = Math.floor(Date.now() / MIN) * MIN - 3 * MIN, start = end - 7 * 1440 * MIN;
const VITALS = [['heart_rate', '/min', 80, 15], ['spo2', '%', 96, 2], ['respiratory_rate', '/min', 16, 3],
  ['systolic_bp', 'mm[Hg]', 120, 12], ['diastolic_bp', 'mm[Hg]', 75, 8], ['temperature', 'Cel', 37, 0.4]];
for (let day = 0; day < 7; day++) {
  const batch = [];
  for (let m = 0; m < 1440; m++) {
    const i = day * 1440 + m;
    for (const [type, unit, mid, amp] of VITALS)
      batch.push({ id: 'h' + i + type, device_id: 'bench-mon-hist', patient_id: HIST,
                   ts: new Date(start + i * MIN).toISOString(), type, unit,
                   value: Number((mid + amp * Math.sin(i / 180 + type.length)).toFixed(1)) });
  }
  await post('/api/v1/events', batch);
}
// a reading now closes the last minutes' windows
await post('/api/v1/events', VITALS.map(([type, unit, mid]) => ({ id: 'hist-now-' + type,
  device_id: 'bench-mon-hist', patient_id: HIST, ts: new Date().toISOString(), type, unit, value: mid })));
const from7 = encodeURIComponent(new Date(start).toISOString());
await until('the 7 days of rollups', async () => (await get(
  `/api/v1/patients/${HIST}/vitals?resolution=1m&limit=100000&from=${from7}&final=true`)).vitals.length >=
  6 * 7 * 1440, 120000);

// the read the page makes, and the one it made before fields=
async function readMs(query) {
  const t = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await get(`/api/v1/patients/${HIST}/vitals?resolution=1m&limit=100000&from=${from7}${query}`);
    t.push(Math.round(performance.now() - t0));
  }
  return med(t);
}
const readMean = await readMs('&fields=mean'), readAll = await readMs('');

// the board's patients: one of each vital each
const ids = Array.from({ length: PATIENTS }, (_, i) => 'bench-' + String(i).padStart(3, '0'));
const now = Date.now();
await post('/api/v1/events', ids.flatMap((id, i) => VITALS.map(([type, unit, mid]) => ({
  id: id + '-0-' + type, device_id: 'bench-mon-' + i, patient_id: id, ts: new Date(now).toISOString(),
  type, unit, value: mid }))));
await until('100 patients on the board', async () =>
  (await get('/api/v1/patients?limit=1000')).patients.length >= PATIENTS + 1, 30000);

const browser = await chromium.launch({
  executablePath: process.env.CARELAKE_CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox'],
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await ctx.newPage();
  await page.goto(base + '/');
  await page.fill('#token', clinician);

  // 2a. sign-in to 100 tiles
  const t0 = Date.now();
  await page.click('#signin-form button[type=submit]');
  await page.waitForFunction((n) => document.querySelectorAll('#beds li.tile').length >= n, PATIENTS,
                             { polling: 'raf', timeout: 30000 });
  const renderMs = Date.now() - t0;
  await page.locator('#live.on').waitFor({ timeout: 20000 });

  // 2b. 100 patients at 1 Hz: the time each heart rate shows on its tile
  await page.evaluate(() => {
    window.__seen = {};
    new MutationObserver((list) => {
      const t = Date.now();
      for (const m of list) {
        const dd = (m.target.nodeType === 1 ? m.target : m.target.parentElement).closest('dd');
        const tile = dd && dd.closest('li.tile');
        if (!tile || tile.querySelector('dl.vitals dd') !== dd)
          continue;
        const key = tile.dataset.patient + '|' + dd.textContent;
        if (!(key in window.__seen))
          window.__seen[key] = t;
      }
    }).observe(document.querySelector('#beds'), { subtree: true, childList: true, characterData: true });
  });
  const sent = new Map();
  const tick0 = Date.now();
  for (let s = 0; s < SECS; s++) {
    // ten posts of ten patients over each second, as gateways would send
    for (let g = 0; g < 10; g++) {
      const at = tick0 + s * 1000 + g * 100;
      const wait = at - Date.now();
      if (wait > 0)
        await new Promise((r) => setTimeout(r, wait));
      const value = 100 + s;   // unique per second: what the tile shows
      const batch = ids.slice(g * 10, g * 10 + 10).map((id) => ({
        id: `${id}-${s}`, device_id: 'bench-mon-' + ids.indexOf(id), patient_id: id,
        ts: new Date().toISOString(), type: 'heart_rate', unit: '/min', value }));
      const t = Date.now();
      for (const e of batch)
        sent.set(e.patient_id + '|' + value, t);
      await post('/api/v1/events', batch);
    }
  }
  await new Promise((r) => setTimeout(r, 3000));
  const seen = await page.evaluate(() => window.__seen);
  const delays = [];
  let missed = 0;
  for (const [key, t] of sent) {
    if (key in seen)
      delays.push(seen[key] - t);
    else
      missed++;
  }
  delays.sort((a, b) => a - b);
  await ctx.close();

  // 1. the patient page, 7 days of 1-minute rollups
  const pctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const ppage = await pctx.newPage();
  await ppage.goto(base + '/');
  await ppage.fill('#token', clinician);
  await ppage.click('#signin-form button[type=submit]');
  await ppage.waitForURL(base + '/board');
  await ppage.goto(base + '/patient?id=' + HIST);
  await ppage.locator('#status[data-points]').waitFor({ timeout: 30000 });
  const runs = [];
  for (let i = 0; i < 5; i++) {
    await ppage.click('.range[data-span="86400"]');
    await ppage.locator('#status[data-points][data-resolution="1m"]').waitFor({ timeout: 30000 });
    await ppage.waitForFunction(() => document.querySelector('.range[data-span="86400"]')
      .getAttribute('aria-pressed') === 'true' && document.querySelector('#status').dataset.points);
    await ppage.click('.range[data-span="604800"]');
    await ppage.waitForFunction(() => document.querySelector('.range[data-span="604800"]')
      .getAttribute('aria-pressed') === 'true' && Number(document.querySelector('#status').dataset.points) > 50000,
    null, { timeout: 30000 });
    const st = ppage.locator('#status');
    runs.push({ load: Number(await st.getAttribute('data-load-ms')), draw: Number(await st.getAttribute('data-draw-ms')),
                points: Number(await st.getAttribute('data-points')) });
  }
  await pctx.close();

  const total = runs.map((r) => r.load + r.draw);
  const m = runs[total.indexOf(med(total))];
  console.log(`dashboards patient page, 7 days of 1-minute rollups (${m.points} values): ` +
              `median ${med(total)} ms of 5 (read ${m.load} ms, drawn ${m.draw} ms; ` +
              `all: ${total.join(', ')} ms); target < 500 ms: ${(med(total) / 500).toFixed(2)}x the target`);
  console.log(`dashboards vitals API, the same 7 days read and parsed: means only ${readMean} ms, ` +
              `every statistic (the baseline, as before fields=) ${readAll} ms: ` +
              `${(readMean / readAll).toFixed(2)}x its time`);
  console.log(`dashboards board, ${PATIENTS} patients: sign-in to every tile drawn ${renderMs} ms; ` +
              `target < 1000 ms: ${(renderMs / 1000).toFixed(2)}x the target`);
  console.log(`dashboards board, ${PATIENTS} patients at 1 Hz for ${SECS} s (${sent.size} readings): ` +
              `event to tile p50 ${pct(delays, 0.5)} ms, p99 ${pct(delays, 0.99)} ms, ` +
              `max ${delays[delays.length - 1]} ms; ${missed} never shown`);
} finally {
  await browser.close();
}
