// Tests of the wrapper's own behaviour (auth, status codes, paging links) on a loopback server.
// Run with `npm test` in this folder; the FHIR semantics themselves are Medplum's and are exercised
// from Go by fhir/medplum_integration_test.go.
'use strict';

const assert = require('node:assert/strict');
const http = require('node:http');
const { after, before, test } = require('node:test');
const { createHandler, indexDefinitions } = require('./server.js');

const TOKEN = 'wrapper-test-token';
let server;
let base;

before(async () => {
  indexDefinitions();
  const handle = createHandler({ token: TOKEN, basePath: '/fhir/R4', publicBaseURL: '' });
  server = http.createServer((req, res) => handle(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}/fhir/R4`;
});

after(() => new Promise((resolve) => server.close(resolve)));

async function call(method, path, { token = TOKEN, body } = {}) {
  const headers = { 'Content-Type': 'application/fhir+json' };
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

test('requests without the token are refused with 401 and an OperationOutcome', async () => {
  for (const token of ['', 'wrong-token', TOKEN + 'x']) {
    const r = await call('GET', '/Patient/p1', { token });
    assert.equal(r.status, 401, `token ${JSON.stringify(token)}`);
    assert.equal(r.json.resourceType, 'OperationOutcome');
    assert.match(r.headers.get('www-authenticate'), /^Bearer /);
    assert.match(r.headers.get('content-type'), /^application\/fhir\+json/);
  }
});

test('metadata needs no token', async () => {
  const r = await call('GET', '/metadata', { token: '' });
  assert.equal(r.status, 200);
  assert.equal(r.json.resourceType, 'CapabilityStatement');
});

test('invalid JSON is a 400, an oversized body a 413, an unknown resource a 404', async () => {
  const res = await fetch(base, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}` },
    body: '{not json',
  });
  assert.equal(res.status, 400);
  assert.equal((await call('GET', '/Patient/absent')).status, 404);
  const big = await fetch(base, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}` },
    body: 'x'.repeat((8 << 20) + 1),
  });
  assert.equal(big.status, 413);
});

test('transaction keeps PUT ids and search pages with next links', async () => {
  const put = (resource) => ({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } });
  const tx = await call('POST', '', {
    body: {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        put({ resourceType: 'Patient', id: 'wp1' }),
        ...['a', 'b', 'c'].map((id) =>
          put({
            resourceType: 'MedicationRequest',
            id: `wmr-${id}`,
            status: 'active',
            intent: 'order',
            subject: { reference: 'Patient/wp1' },
          })
        ),
      ],
    },
  });
  assert.equal(tx.status, 200);
  assert.equal(tx.json.type, 'transaction-response');
  assert.deepEqual(
    tx.json.entry.map((e) => e.response.location),
    ['Patient/wp1', 'MedicationRequest/wmr-a', 'MedicationRequest/wmr-b', 'MedicationRequest/wmr-c']
  );

  const seen = [];
  let url = '/MedicationRequest?patient=Patient/wp1&_count=2';
  let pages = 0;
  while (url) {
    const r = await call('GET', url);
    assert.equal(r.status, 200);
    assert.equal(r.json.type, 'searchset');
    assert.equal(r.json.total, 3);
    for (const e of r.json.entry ?? []) {
      assert.equal(e.fullUrl, `${base}/MedicationRequest/${e.resource.id}`);
      seen.push(e.resource.id);
    }
    const next = r.json.link.find((l) => l.relation === 'next')?.url;
    assert.ok(!next || next.startsWith(base + '/MedicationRequest?'), next);
    url = next ? next.slice(base.length) : '';
    pages++;
  }
  assert.equal(pages, 2);
  assert.deepEqual(seen.sort(), ['wmr-a', 'wmr-b', 'wmr-c']);

  // Medplum matches a reference parameter only in its stored relative form.
  const bare = await call('GET', '/MedicationRequest?patient=wp1');
  assert.equal(bare.json.total, 0);
});
