// valuerx dashboard browser test (issue 16), driven by gateway/dashboard_browser_test.go, which
// generates a year of traffic into a real SQLite store behind a real gateway on loopback, counts
// the overview's figures by hand from the generator's ledger and writes a manifest:
//
//   node dashboard.js dashboard-manifest.json
//
// It launches Debian's Chromium (never a downloaded browser) through playwright-core and:
//   1. signs in as an analyst through the login form (the dashboard redirects there);
//   2. reads the overview's totals and per-contract rows and checks them against the JSON API
//      (/analytics/report, same session) and the hand count;
//   3. picks a contract in the filter form, applies it, and checks the filtered figures likewise;
//   4. downloads the per-contract CSV of the filtered page and checks its rows;
//   5. opens every tab at 1280 px and 768 px: nothing wider than the viewport, charts drawn, no
//      script, no request leaving the gateway; opens a decision and its comparison page;
//   6. sees a bad filter refused with a 400 page that says why, and a 400 JSON body from the API.
// Screenshots go to the manifest's artifacts folder. Failures are printed one per line; the exit
// status is 1 when any check fails.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const m = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const failures = [];
const fail = (msg) => { failures.push(msg); console.log('FAIL ' + msg); };
const pass = (msg) => console.log('ok   ' + msg);
const shot = (name) => path.join(m.artifacts, name);

// Page text to numbers: "$1,234.56" -> 123456 cents, "75.0 %" -> 75, "1,234" -> 1234.
const cents = (s) => Math.round(Number(String(s).replace(/[$,\s]/g, '')) * 100);
const num = (s) => Number(String(s).replace(/[,%\s]/g, ''));

function same(what, got, want) {
  const bad = [];
  for (const k of Object.keys(want)) {
    if (k === 'acceptancePct') {
      if (Math.abs(got[k] - want[k]) > 0.05 + 1e-9) bad.push(`${k} ${got[k]} != ${want[k]}`);
    } else if (got[k] !== want[k]) bad.push(`${k} ${got[k]} != ${want[k]}`);
  }
  if (bad.length) fail(`${what}: ${bad.join(', ')}`); else pass(`${what}: ${Object.keys(want).length} figures agree`);
}

const figureKeys = ['orders', 'noCard', 'cards', 'accepted', 'overridden', 'noFeedback', 'payerCents', 'acceptancePct'];
const pick = (o) => Object.fromEntries(figureKeys.map((k) => [k, o[k]]));

// The overview as the page shows it.
async function readOverview(page) {
  return page.evaluate(() => {
    const t = (id) => document.getElementById(id).textContent.trim();
    const total = { orders: t('total-orders'), noCard: t('total-nocard'), cards: t('total-cards'), accepted: t('total-accepted'),
      overridden: t('total-overridden'), payer: t('total-payer'), patient: t('total-patient'), acceptance: t('total-acceptance') };
    const contracts = {};
    for (const tr of document.querySelectorAll('#contracts tbody tr[data-contract]')) {
      const c = [...tr.querySelectorAll('td.n')].map((td) => td.textContent.trim());
      contracts[tr.dataset.contract] = { orders: c[0], noCard: c[1], cards: c[2], accepted: c[3], overridden: c[4], noFeedback: c[5],
        acceptance: c[6], payer: c[7], patient: c[8] };
    }
    return { total, contracts };
  });
}

function pageFigures(r) {
  return { orders: num(r.orders), noCard: num(r.noCard), cards: num(r.cards), accepted: num(r.accepted), overridden: num(r.overridden),
    noFeedback: r.noFeedback === undefined ? undefined : num(r.noFeedback), payerCents: cents(r.payer), acceptancePct: num(r.acceptance) };
}

function apiFigures(r) {
  return { orders: r.orders, noCard: r.noCard, cards: r.cards, accepted: r.accepted, overridden: r.overridden, noFeedback: r.noFeedback,
    payerCents: Math.round(r.projectedPayerSavedUSD * 100), acceptancePct: r.acceptanceRate * 100 };
}

async function checkOverview(page, ctx, label, query, hand) {
  const shown = await readOverview(page);
  const resp = await ctx.request.get(m.base + '/analytics/report' + query);
  if (resp.status() !== 200) { fail(`${label}: JSON API answered ${resp.status()}`); return; }
  const api = await resp.json();
  const pt = pageFigures(shown.total);
  delete pt.noFeedback;
  const want = pick(hand.total);
  delete want.noFeedback;
  same(`${label} totals, page vs hand count`, pt, want);
  same(`${label} totals, JSON API vs hand count`, pick(apiFigures(api.total)), pick(hand.total));
  same(`${label} totals, page vs JSON API`, pt, Object.fromEntries(Object.entries(apiFigures(api.total)).filter(([k]) => k !== 'noFeedback')));
  const names = Object.keys(hand.contracts).sort();
  if (JSON.stringify(Object.keys(shown.contracts).sort()) !== JSON.stringify(names)) {
    fail(`${label}: contract rows ${Object.keys(shown.contracts)} vs hand count ${names}`);
  }
  for (const c of names) {
    const row = api.contracts.find((r) => r.contract === c);
    if (!row) { fail(`${label}: ${c} missing from the JSON API`); continue; }
    same(`${label} ${c}, page vs hand count`, pageFigures(shown.contracts[c] || {}), pick(hand.contracts[c]));
    same(`${label} ${c}, JSON API vs hand count`, pick(apiFigures(row)), pick(hand.contracts[c]));
  }
  return api;
}

async function noOverflow(page, label, width) {
  const r = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, scripts: document.scripts.length }));
  if (r.scroll > width) fail(`${label}: the page is ${r.scroll}px wide at a ${width} px viewport`); else pass(`${label}: fits ${width} px`);
  if (r.scripts !== 0) fail(`${label}: ${r.scripts} scripts; the dashboard works without JavaScript`);
}

function parseCSV(text) {
  // The dashboard's CSV quotes only cells with commas or quotes (encoding/csv); reason lists use ';'.
  const rows = [];
  for (const line of text.trim().split(/\r?\n/)) {
    const cells = [];
    let cur = '', q = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (q) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') q = false; else cur += ch;
      } else if (ch === '"') q = true; else if (ch === ',') { cells.push(cur); cur = ''; } else cur += ch;
    }
    cells.push(cur);
    rows.push(cells);
  }
  return rows;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: m.chromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
    const page = await ctx.newPage();
    const foreign = [];
    page.on('request', (req) => { if (!req.url().startsWith(m.base) && !req.url().startsWith('data:')) foreign.push(req.url()); });

    // 1. Sign in: the dashboard sends a browser without a session to the login form.
    await page.goto(m.base + '/analytics/dashboard', { waitUntil: 'load' });
    if (!page.url().includes('/analytics/login')) fail(`not sent to the login form: ${page.url()}`);
    await page.screenshot({ path: shot('dashboard-login.png') });
    await page.fill('input[name=username]', m.user);
    await page.fill('input[name=password]', m.password);
    await Promise.all([page.waitForURL((u) => u.pathname === '/analytics/dashboard'), page.click('button[type=submit]')]);
    pass('signed in through the login form and landed on the dashboard');

    // 2. The overview against the JSON API and the hand count.
    await checkOverview(page, ctx, 'overview', '', m.overview);
    const bars = await page.$$eval('#contract-chart rect.bar', (rs) => rs.filter((r) => Number(r.getAttribute('width')) > 0).length);
    if (bars < 2) fail(`overview: the contract chart drew ${bars} bars`); else pass(`overview: contract chart drawn (${bars} bars)`);
    await noOverflow(page, 'overview', 1280);
    await page.screenshot({ path: shot('dashboard-overview-1280.png'), fullPage: false });
    await page.screenshot({ path: shot('dashboard-overview-1280-full.png'), fullPage: true });

    // 3. The contract filter, as an analyst uses it.
    await page.selectOption('select[name=contract]', m.filterContract);
    await Promise.all([page.waitForURL((u) => u.searchParams.get('contract') === m.filterContract), page.click('#apply')]);
    const query = new URL(page.url()).search;
    await checkOverview(page, ctx, `filtered to ${m.filterContract}`, query, m.filtered);
    await page.screenshot({ path: shot('dashboard-filtered-1280.png'), fullPage: true });

    // 4. The per-contract CSV of the filtered page.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv-contracts')]);
    const file = shot('dashboard-contracts.csv');
    await download.saveAs(file);
    const rows = parseCSV(fs.readFileSync(file, 'utf8'));
    const head = rows[0];
    const col = (name) => head.indexOf(name);
    if (rows.length !== 2 || rows[1][col('contract')] !== m.filterContract) {
      fail(`contracts CSV: ${rows.length - 1} rows (${rows.slice(1).map((r) => r[0])}), want one for ${m.filterContract}`);
    } else {
      const r = rows[1];
      const want = m.filtered.contracts[m.filterContract];
      same('contracts CSV vs hand count', {
        orders: Number(r[col('orders')]), noCard: Number(r[col('noCard')]), cards: Number(r[col('cards')]), accepted: Number(r[col('accepted')]),
        overridden: Number(r[col('overridden')]), noFeedback: Number(r[col('noFeedback')]),
        payerCents: Math.round(Number(r[col('projectedPayerSavedUSD')]) * 100), acceptancePct: Number(r[col('acceptanceRate')]) * 100,
      }, pick(want));
    }

    // 5. Every tab at 1280 px and 768 px.
    for (const width of [1280, 768]) {
      await page.setViewportSize({ width, height: 1000 });
      for (const [tab, p] of [['overview', ''], ['families', '/families'], ['people', '/people'], ['outcomes', '/outcomes'], ['decisions', '/decisions']]) {
        const resp = await page.goto(m.base + '/analytics/dashboard' + p, { waitUntil: 'load' });
        if (!resp || resp.status() !== 200) { fail(`${tab} at ${width}: status ${resp && resp.status()}`); continue; }
        await noOverflow(page, `${tab} at ${width}`, width);
        await page.screenshot({ path: shot(`dashboard-${tab}-${width}.png`), fullPage: true });
      }
    }
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.goto(m.base + '/analytics/dashboard/families', { waitUntil: 'load' });
    const lines = await page.$$eval('#adoption-chart polyline', (ps) => ps.filter((p) => (p.getAttribute('points') || '').split(' ').length > 3).length);
    const families = await page.$$eval('#adoption tbody tr', (rs) => rs.length);
    if (lines < 3 || families < 3) fail(`families: ${lines} adoption lines, ${families} rows`); else pass(`families: adoption chart drawn (${lines} lines, ${families} families)`);
    await page.screenshot({ path: shot('dashboard-families-1280-top.png') });
    await page.goto(m.base + '/analytics/dashboard/people', { waitUntil: 'load' });
    const people = await page.evaluate(() => ({ p: document.querySelectorAll('#prescribers tbody tr').length, l: document.querySelectorAll('#locations tbody tr').length,
      // every row names its client (EHR): the generated year comes from one demo client
      clients: [...new Set([...document.querySelectorAll('#prescribers tbody tr td.client, #locations tbody tr td.client')].map((td) => td.textContent))],
      cells: document.querySelectorAll('#prescribers tbody tr td.client, #locations tbody tr td.client').length }));
    if (people.p < 10 || people.l < 3) fail(`people: ${people.p} prescriber rows, ${people.l} location rows`); else pass(`people: ${people.p} prescribers, ${people.l} locations`);
    if (people.cells !== people.p + people.l || people.clients.length !== 1 || !people.clients[0]) fail(`people: client cells ${people.cells} of ${people.p + people.l} rows, clients ${JSON.stringify(people.clients)}`);
    else pass(`people: every row names its client (${people.clients[0]})`);

    await page.goto(m.base + '/analytics/dashboard/outcomes', { waitUntil: 'load' });
    const out = await page.evaluate(() => ({ div: document.querySelectorAll('#divergence tbody tr').length,
      bars: document.querySelectorAll('#divergence-chart rect.bar').length, contracts: document.querySelectorAll('#outcome-contracts tbody tr').length,
      realised: (document.getElementById('out-realised') || {}).textContent }));
    if (out.div < 4 || out.bars < 4 || out.contracts < 4 || !/^\$/.test(out.realised || '')) fail(`outcomes: ${JSON.stringify(out)}`);
    else pass(`outcomes: ${out.contracts} contracts, realised ${out.realised} a year, divergence in ${out.div} family-quarters (${out.bars} quarters drawn)`);
    // The orders without divergence answers, and why: every request of the generated year was
    // scored under its own configuration, so requested = scored and nothing is missing.
    const gaps = await page.evaluate(() => Object.fromEntries(['div-requested', 'div-scored', 'div-ns-config', 'div-ns-catalog', 'div-ns-failed', 'div-pending']
      .map((id) => [id, Number((document.getElementById(id) || {}).textContent)])));
    if (!(gaps['div-requested'] > 0) || gaps['div-requested'] !== gaps['div-scored'] + gaps['div-ns-config'] + gaps['div-ns-catalog'] + gaps['div-ns-failed'] + gaps['div-pending'] ||
      gaps['div-pending'] !== 0 || gaps['div-ns-config'] !== 0 || gaps['div-ns-catalog'] !== 0) fail(`outcomes: divergence gaps ${JSON.stringify(gaps)}`);
    else pass(`outcomes: ${gaps['div-scored']} of ${gaps['div-requested']} orders with a request scored, none pending`);
    await page.screenshot({ path: shot('dashboard-outcomes-1280-top.png') });

    // The drill-down: a decision with a card, its page, and its comparison page.
    await page.goto(m.base + '/analytics/dashboard/decisions', { waitUntil: 'load' });
    const count = await page.$$eval('#decisions tbody tr', (rs) => rs.length);
    if (count !== 50) fail(`decisions: ${count} rows on the first page, want 50`); else pass('decisions: 50 rows on the first page');
    const text = await page.evaluate(() => document.body.innerText);
    if (/Patient\/|birth|MRN/i.test(text)) fail('decisions page shows something like a patient identifier');
    const link = await page.$('#decisions a[href^="/analytics/decisions/"]');
    if (!link) fail('decisions: no row links to its decision');
    else {
      await Promise.all([page.waitForURL(/\/analytics\/decisions\//), link.click()]);
      const sugg = await page.$$eval('#suggestions tbody tr', (rs) => rs.length);
      if (sugg < 1) fail('decision page: no suggestion shown'); else pass(`decision page: ${sugg} suggestions as recorded`);
      await page.screenshot({ path: shot('dashboard-decision.png'), fullPage: true });
      const cmp = await page.$('#compare-link');
      if (!cmp) fail(`decision page: no comparison link (${await page.evaluate(() => (document.getElementById('compare-note') || {}).textContent)})`);
      else {
        const href = await cmp.getAttribute('href');
        const resp = await page.goto(href, { waitUntil: 'load' });
        const figures = await page.$$eval('[data-figure]', (els) => els.length);
        if (!resp || resp.status() !== 200 || figures < 5) fail(`comparison page from the drill-down: status ${resp && resp.status()}, ${figures} figures`);
        else pass(`comparison page from the drill-down: ${figures} figures`);
        await page.screenshot({ path: shot('dashboard-compare.png'), fullPage: true });
      }
    }

    // 6. Bad filters: a page that says why for the browser, a JSON body for the API.
    const bad = await page.goto(m.base + '/analytics/dashboard?contract=no-such-contract', { waitUntil: 'load' });
    const msg = await page.evaluate(() => (document.getElementById('error-message') || {}).textContent || '');
    if (!bad || bad.status() !== 400 || !/contract/.test(msg)) fail(`bad contract filter: status ${bad && bad.status()}, message ${JSON.stringify(msg)}`);
    else pass(`bad contract filter: 400, "${msg}"`);
    await page.screenshot({ path: shot('dashboard-bad-filter.png') });
    const api = await ctx.request.get(m.base + '/analytics/report?from=2026-13-01');
    let body = null;
    try { body = await api.json(); } catch (e) { /* not JSON */ }
    if (api.status() !== 400 || !body || !JSON.stringify(body).includes('from must be a date')) fail(`bad from on the API: ${api.status()} ${JSON.stringify(body)}`);
    else pass('bad from on the API: 400 with a JSON body');

    if (foreign.length) fail(`requests left the gateway: ${foreign.slice(0, 5).join(', ')}`); else pass('no request left the gateway (no CDN, no font, no script)');
    await ctx.close();
  } finally {
    await browser.close();
  }
}

main().then(() => {
  process.exit(failures.length ? 1 : 0);
}, (err) => {
  console.log('FAIL ' + (err && err.stack || err));
  process.exit(1);
});
