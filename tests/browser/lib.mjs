// What the browser tests share: their report of what failed, Debian's
// chromium launched through playwright-core, a page that fails on any
// console error, page error, dialog, failed request or HTTP error, signing
// in with a token, axe-core's serious and critical violations, and
// `carelake query` for the numbers a page must show.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// The script's report: step() says what it does, fail() records a failure
// and goes on, done() prints them and exits 1, or prints `ok` and exits 0.
export function report(name) {
  const problems = [];
  const step = (what) => process.stderr.write(`${name}: ${what}\n`);
  return {
    step,
    fail(what) {
      problems.push(what);
      step('FAILED: ' + what);
    },
    done(ok) {
      if (problems.length) {
        console.log(problems.join('\n'));
        process.exit(1);
      }
      console.log(ok);
    },
  };
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CARELAKE_CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox'],   // runs as root in CI's container
  });
}

// A page of ctx on which anything going wrong is a failure.
export async function watchedPage(ctx, fail) {
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') fail('console error: ' + m.text()); });
  page.on('pageerror', (e) => fail('page error: ' + e.message));
  page.on('dialog', (d) => { fail('a dialog opened: ' + d.message()); d.dismiss(); });
  page.on('requestfailed', (r) => fail('request failed: ' + r.url() + ' ' + r.failure().errorText));
  page.on('response', (r) => { if (r.status() >= 400) fail('HTTP ' + r.status() + ' for ' + r.url()); });
  return page;
}

// Signs in with token on the sign-in page and waits to land on `lands`.
export async function signIn(page, base, token, lands) {
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('#signin-form button[type=submit]');
  await page.waitForURL(base + lands);
}

// axe-core over the page: each serious or critical violation a failure.
export async function checkAxe(page, fail) {
  await page.evaluate(axeSource);
  const axe = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  for (const v of axe.violations)
    if (v.impact === 'serious' || v.impact === 'critical')
      fail(`axe ${v.impact}: ${v.id}: ${v.help} (${v.nodes.length} nodes: ` +
           v.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(', ') + ')');
}

// `carelake query --format json` over the data directory.
export function query(carelake, data, sql) {
  return JSON.parse(execFileSync(carelake, ['query', '--data', data, '--format', 'json', sql],
                                 { encoding: 'utf8' }));
}

// a === b for numbers that went through text, or both null
export function close(a, b) {
  return (a === null && b === null) || (a !== null && b !== null && Math.abs(a - b) < 1e-9);
}
