// valuerx browser test (issue 14), driven by gateway/browser_test.go, which starts a real gateway
// on loopback, renders every demo card's markdown detail with goldmark and writes a manifest:
//
//   node run.js manifest.json
//
// It launches Debian's Chromium (never a downloaded browser) through playwright-core and checks:
//   1. every card, in a 300 px wide sidebar panel, overflows nothing horizontally;
//   2. the comparison page opened from a real card's link shows the card's valuerx-economics
//      figures to the cent, draws both charts and fits a 360 px viewport;
//   3. a tampered and an expired link show a page with no data.
// Screenshots go to the manifest's artifacts folder. Failures are printed one per line; the exit
// status is 1 when any check fails.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const manifest = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const failures = [];
const fail = (msg) => { failures.push(msg); console.log('FAIL ' + msg); };
const pass = (msg) => console.log('ok   ' + msg);

async function main() {
  const browser = await chromium.launch({
    executablePath: manifest.chromium,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    await cards(browser);
    await comparison(browser);
    await refused(browser);
  } finally {
    await browser.close();
  }
}

// 1. Each card in a 300 px panel: nothing may stick out to the right, and the panel itself may
// not scroll sideways.
async function cards(browser) {
  const page = await browser.newPage({ viewport: { width: 340, height: 900 } });
  for (const c of manifest.cards) {
    await page.setContent(c.html, { waitUntil: 'load' });
    const r = await page.evaluate(() => {
      const panel = document.getElementById('panel');
      const box = panel.getBoundingClientRect();
      const over = [];
      for (const el of panel.querySelectorAll('*')) {
        const b = el.getBoundingClientRect();
        if (b.width > 0 && b.right > box.right + 0.5) {
          over.push(el.tagName.toLowerCase() + ' ' + JSON.stringify((el.textContent || '').trim().slice(0, 40)) + ' right=' + b.right.toFixed(1));
        }
      }
      return { width: box.width, scroll: panel.scrollWidth, client: panel.clientWidth, over, tables: panel.querySelectorAll('table').length };
    });
    if (Math.round(r.width) !== 300) fail(`${c.name}: panel is ${r.width}px wide, want 300`);
    if (r.scroll > r.client) fail(`${c.name}: panel scrolls sideways (${r.scroll} > ${r.client})`);
    if (r.over.length) fail(`${c.name}: overflows the 300 px panel: ${r.over.slice(0, 5).join('; ')}`);
    if (r.tables < 1 && c.wantTable) fail(`${c.name}: the markdown table was not rendered as a table`);
    if (!r.over.length && r.scroll <= r.client) pass(`${c.name}: fits a 300 px panel`);
    const panel = await page.$('#panel');
    await panel.screenshot({ path: path.join(manifest.artifacts, `card-${c.name}.png`) });
  }
  await page.close();
}

// 2. The comparison page from the card's own link.
async function comparison(browser) {
  const cmp = manifest.compare;
  const page = await browser.newPage({ viewport: { width: 360, height: 800 } });
  const resp = await page.goto(cmp.url, { waitUntil: 'load' });
  if (!resp || resp.status() !== 200) {
    fail(`comparison page: status ${resp && resp.status()}`);
    return;
  }
  const got = await page.evaluate(() => {
    const figures = {};
    for (const td of document.querySelectorAll('[data-figure]')) figures[td.dataset.figure] = Number(td.dataset.value);
    const bars = [...document.querySelectorAll('#cost-chart rect')].filter((r) => Number(r.getAttribute('width')) > 0 && r.getBoundingClientRect().width > 0).length;
    const lines = [...document.querySelectorAll('#price-chart polyline')].filter((p) => (p.getAttribute('points') || '').includes(',') && p.getBoundingClientRect().width > 0).length;
    return { figures, bars, lines, scroll: document.documentElement.scrollWidth, scripts: document.scripts.length };
  });
  const ext = cmp.extension;
  let checked = 0;
  for (const p of [ext.ordered, ...ext.options]) {
    for (const span of ['perAdministration', 'perCourse', 'perYear']) {
      for (const k of ['allowed', 'payerPaid', 'patient', 'secondary', 'organisation']) {
        const key = `${p.product}.${span}.${k}`;
        checked++;
        if (got.figures[key] !== p[span][k]) fail(`comparison page: ${key} is ${got.figures[key]}, the card's valuerx-economics says ${p[span][k]}`);
      }
    }
  }
  pass(`comparison page: ${checked} figures checked against the card's valuerx-economics`);
  if (got.bars < 2) fail(`comparison page: the cost chart drew ${got.bars} bars`); else pass(`comparison page: cost chart drawn (${got.bars} bar segments)`);
  if (got.lines < 2) fail(`comparison page: the price chart drew ${got.lines} lines`); else pass(`comparison page: price chart drawn (${got.lines} lines)`);
  if (got.scroll > 360) fail(`comparison page: ${got.scroll}px wide at a 360 px viewport`); else pass('comparison page: fits a 360 px viewport');
  if (got.scripts !== 0) fail(`comparison page: ${got.scripts} scripts; it must work without JavaScript`);
  await page.screenshot({ path: path.join(manifest.artifacts, 'compare-360.png'), fullPage: true });
  await page.screenshot({ path: path.join(manifest.artifacts, 'compare-360-top.png') });
  for (const id of ['cost-chart', 'price-chart']) {
    const el = await page.$('#' + id);
    if (el) await el.screenshot({ path: path.join(manifest.artifacts, `compare-${id}.png`) });
  }
  await page.emulateMedia({ media: 'print' });
  await page.screenshot({ path: path.join(manifest.artifacts, 'compare-print.png'), fullPage: true });
  await page.close();
}

// 3. Tampered and expired links: a clear page, no figure, no product.
async function refused(browser) {
  const page = await browser.newPage({ viewport: { width: 360, height: 640 } });
  for (const [name, url, status] of [['tampered', manifest.tampered, 404], ['expired', manifest.expired, 410]]) {
    const resp = await page.goto(url, { waitUntil: 'load' });
    const text = await page.evaluate(() => document.body.innerText);
    const figures = await page.$$('[data-figure]');
    if (!resp || resp.status() !== status) fail(`${name} link: status ${resp && resp.status()}, want ${status}`);
    if (figures.length || /\$\d/.test(text) || text.includes(manifest.compare.extension.ordered.name)) fail(`${name} link shows data: ${text.slice(0, 200)}`);
    if (!text.includes('not valid or has expired')) fail(`${name} link: page does not say why: ${text.slice(0, 200)}`);
    else pass(`${name} link: ${status}, no data`);
    await page.screenshot({ path: path.join(manifest.artifacts, `link-${name}.png`) });
  }
  await page.close();
}

main().then(() => {
  process.exit(failures.length ? 1 : 0);
}, (err) => {
  console.log('FAIL ' + (err && err.stack || err));
  process.exit(1);
});
