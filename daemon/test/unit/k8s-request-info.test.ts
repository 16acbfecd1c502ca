import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalK8sPath, isK8sRequestError, parseRequestInfo } from '../../src/classify/index.js';
import type { K8sRequestInfo } from '../../src/classify/index.js';
import { seededRandom } from '../helpers/seeded-random.js';

/**
 * The request info table: the cases of the API server's own requestinfo_test.go
 * (staging/src/k8s.io/apiserver/pkg/endpoints/request), ported, and the cases around them that
 * decide what policy sees (connect subresources, the namespace object, path canonicalisation).
 */

function parse(method: string, url: string): K8sRequestInfo {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? [] : [...new URLSearchParams(url.slice(q + 1))].map(([k, v]) => [k, v] as [string, string]);
  const info = parseRequestInfo({ method, path, query });
  if (isK8sRequestError(info)) assert.fail(`${method} ${url} was refused: ${info.error}`);
  return info;
}

/** method, url, verb, apiPrefix, apiGroup, apiVersion, namespace, resource, subresource, name, parts */
type Row = [string, string, string, string, string, string, string, string, string, string, string[]];

const APISERVER_SUCCESS_CASES: Row[] = [
  // resource paths
  ['GET', '/api/v1/namespaces', 'list', 'api', '', 'v1', '', 'namespaces', '', '', ['namespaces']],
  ['GET', '/api/v1/namespaces/other', 'get', 'api', '', 'v1', 'other', 'namespaces', '', 'other', ['namespaces', 'other']],
  ['GET', '/api/v1/namespaces/other/pods', 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/other/pods/foo', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['HEAD', '/api/v1/namespaces/other/pods/foo', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['GET', '/api/v1/pods', 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  ['HEAD', '/api/v1/pods', 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  // special verbs
  ['GET', '/api/v1/proxy/namespaces/other/pods/foo', 'proxy', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['GET', '/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource', 'proxy', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo', 'subpath', 'not', 'a', 'subresource']],
  ['GET', '/api/v1/watch/pods', 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/pods?watch=true', 'watch', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/pods?watch=false', 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/watch/namespaces/other/pods', 'watch', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/other/pods?watch=1', 'watch', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/other/pods?watch=0', 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  // subresource identification
  ['GET', '/api/v1/namespaces/other/pods/foo/status', 'get', 'api', '', 'v1', 'other', 'pods', 'status', 'foo', ['pods', 'foo', 'status']],
  ['GET', '/api/v1/namespaces/other/pods/foo/proxy/subpath', 'get', 'api', '', 'v1', 'other', 'pods', 'proxy', 'foo', ['pods', 'foo', 'proxy', 'subpath']],
  ['PUT', '/api/v1/namespaces/other/finalize', 'update', 'api', '', 'v1', 'other', 'namespaces', 'finalize', 'other', ['namespaces', 'other', 'finalize']],
  ['PUT', '/api/v1/namespaces/other/status', 'update', 'api', '', 'v1', 'other', 'namespaces', 'status', 'other', ['namespaces', 'other', 'status']],
  // verb identification
  ['PATCH', '/api/v1/namespaces/other/pods/foo', 'patch', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['DELETE', '/api/v1/namespaces/other/pods/foo', 'delete', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['POST', '/api/v1/namespaces/other/pods', 'create', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  // deletecollection verb identification
  ['DELETE', '/api/v1/nodes', 'deletecollection', 'api', '', 'v1', '', 'nodes', '', '', ['nodes']],
  ['DELETE', '/api/v1/namespaces', 'deletecollection', 'api', '', 'v1', '', 'namespaces', '', '', ['namespaces']],
  ['DELETE', '/api/v1/namespaces/other/pods', 'deletecollection', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['DELETE', '/apis/extensions/v1/namespaces/other/pods', 'deletecollection', 'apis', 'extensions', 'v1', 'other', 'pods', '', '', ['pods']],
  // api group identification
  ['POST', '/apis/extensions/v1/namespaces/other/pods', 'create', 'apis', 'extensions', 'v1', 'other', 'pods', '', '', ['pods']],
  // api version identification
  ['POST', '/apis/extensions/v1beta3/namespaces/other/pods', 'create', 'apis', 'extensions', 'v1beta3', 'other', 'pods', '', '', ['pods']],
];

/** The same fields for the requests kubectl and client libraries send every day. */
const EVERYDAY_CASES: Row[] = [
  ['GET', '/apis/apps/v1/namespaces/prod/deployments/api', 'get', 'apis', 'apps', 'v1', 'prod', 'deployments', '', 'api', ['deployments', 'api']],
  ['PUT', '/apis/apps/v1/namespaces/prod/deployments/api/scale', 'update', 'apis', 'apps', 'v1', 'prod', 'deployments', 'scale', 'api', ['deployments', 'api', 'scale']],
  ['GET', '/api/v1/namespaces/default/pods/web-1/log?follow=true&container=app', 'get', 'api', '', 'v1', 'default', 'pods', 'log', 'web-1', ['pods', 'web-1', 'log']],
  ['GET', '/api/v1/namespaces/default/pods/web-1/exec?command=ls&stdout=true', 'get', 'api', '', 'v1', 'default', 'pods', 'exec', 'web-1', ['pods', 'web-1', 'exec']],
  ['POST', '/api/v1/namespaces/default/pods/web-1/exec?command=ls&stdout=true', 'create', 'api', '', 'v1', 'default', 'pods', 'exec', 'web-1', ['pods', 'web-1', 'exec']],
  ['POST', '/api/v1/namespaces/default/serviceaccounts/builder/token', 'create', 'api', '', 'v1', 'default', 'serviceaccounts', 'token', 'builder', ['serviceaccounts', 'builder', 'token']],
  ['PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1/approval', 'update', 'apis', 'certificates.k8s.io', 'v1', '', 'certificatesigningrequests', 'approval', 'csr-1', ['certificatesigningrequests', 'csr-1', 'approval']],
  ['GET', '/api/v1/nodes/node-1/proxy/configz', 'get', 'api', '', 'v1', '', 'nodes', 'proxy', 'node-1', ['nodes', 'node-1', 'proxy', 'configz']],
  ['POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', 'create', 'apis', 'rbac.authorization.k8s.io', 'v1', '', 'clusterrolebindings', '', '', ['clusterrolebindings']],
  ['GET', '/apis/apps/v1/watch/namespaces/prod/deployments/api', 'watch', 'apis', 'apps', 'v1', 'prod', 'deployments', '', 'api', ['deployments', 'api']],
  ['GET', '/api/v1/namespaces/other/pods/foo?watch=true', 'get', 'api', '', 'v1', 'other', 'pods', '', 'foo', ['pods', 'foo']],
  ['PATCH', '/api/v1/namespaces/new-namespace', 'patch', 'api', '', 'v1', 'new-namespace', 'namespaces', '', 'new-namespace', ['namespaces', 'new-namespace']],
  ['DELETE', '/api/v1/namespaces/doomed', 'delete', 'api', '', 'v1', 'doomed', 'namespaces', '', 'doomed', ['namespaces', 'doomed']],
  ['PUT', '/api/v1/namespaces/keep', 'update', 'api', '', 'v1', 'keep', 'namespaces', '', 'keep', ['namespaces', 'keep']],
  ['GET', '/api/v1/pods/', 'list', 'api', '', 'v1', '', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/x/%70ods', 'list', 'api', '', 'v1', 'x', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/other/pods?watch=', 'watch', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/other/pods?watch=FALSE', 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['GET', '/api/v1/namespaces/other/pods?watch=false&watch=true', 'list', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
  ['DELETE', '/api/v1/namespaces/other/pods?fieldSelector=metadata.name%3Dfoo', 'deletecollection', 'api', '', 'v1', 'other', 'pods', '', '', ['pods']],
];

function checkRow(row: Row): void {
  const [method, url, verb, apiPrefix, apiGroup, apiVersion, namespace, resource, subresource, name, parts] = row;
  const info = parse(method, url);
  assert.equal(info.isResourceRequest, true, `${method} ${url} is a resource request`);
  assert.deepEqual(
    { verb: info.verb, apiPrefix: info.apiPrefix, apiGroup: info.apiGroup, apiVersion: info.apiVersion, namespace: info.namespace, resource: info.resource, subresource: info.subresource, name: info.name, parts: info.parts },
    { verb, apiPrefix, apiGroup, apiVersion, namespace, resource, subresource, name, parts },
    `${method} ${url}`,
  );
}

describe('Kubernetes request info: the API server requestinfo_test.go table', () => {
  for (const row of APISERVER_SUCCESS_CASES) test(`${row[0]} ${row[1]} → ${row[2]} ${row[7]}${row[8] ? `/${row[8]}` : ''}${row[9] ? ` ${row[9]}` : ''}`, () => checkRow(row));

  for (const row of EVERYDAY_CASES) test(`(everyday) ${row[0]} ${row[1]} → ${row[2]} ${row[7]}${row[8] ? `/${row[8]}` : ''}${row[9] ? ` ${row[9]}` : ''}`, () => checkRow(row));

  const NOT_RESOURCE: Record<string, string> = {
    'no resource path': '/',
    'just apiversion': '/api/version/',
    'just prefix, group, version': '/apis/group/version/',
    'bad prefix': '/badprefix/version/resource',
    'missing api group': '/apis/version/resource',
    'group without enough steps': '/apis/extensions/v1beta1',
    'not enough steps': '/api/version',
    'one step': '/api',
    'bad root': '/not-api/version/resource',
  };
  for (const [what, path] of Object.entries(NOT_RESOURCE)) {
    test(`${what} (${path}) is a non-resource request, verb the lowercased method`, () => {
      const info = parse('GET', path);
      assert.equal(info.isResourceRequest, false);
      assert.equal(info.verb, 'get');
      assert.equal(info.resource, '');
    });
  }

  const RESOURCE: Record<string, string> = {
    'simple groupless': '/api/version/resource',
    'simple group': '/apis/group/version/resource/name/subresource',
    'more steps': '/api/version/resource/name/subresource',
    'group list': '/apis/batch/v1/job',
    'group get': '/apis/batch/v1/job/foo',
    'group subresource': '/apis/batch/v1/job/foo/scale',
  };
  for (const [what, path] of Object.entries(RESOURCE)) {
    test(`${what} (${path}) is a resource request`, () => assert.equal(parse('GET', path).isResourceRequest, true));
  }

  test('an empty path is refused (the API server never sees one: HTTP requires "/")', () => {
    const info = parseRequestInfo({ method: 'GET', path: '', query: [] });
    assert.ok(isK8sRequestError(info));
    assert.equal(info.status, 400);
  });

  test('a special verb with nothing after it is an error, as the API server has it', () => {
    for (const path of ['/api/v1/watch', '/api/v1/proxy', '/apis/apps/v1/watch']) {
      const info = parseRequestInfo({ method: 'GET', path, query: [] });
      assert.ok(isK8sRequestError(info), path);
      assert.match(info.error, /names no resource/);
    }
  });
});

describe('Kubernetes request info: field selectors narrow a list or watch to a name (TestFieldSelectorParsing)', () => {
  const CASES: Array<{ name: string; url: string; expectedName: string; expectedVerb: string }> = [
    { name: 'no selector', url: '/apis/group/version/resource', expectedName: '', expectedVerb: 'list' },
    { name: 'metadata.name selector', url: '/apis/group/version/resource?fieldSelector=metadata.name=name1', expectedName: 'name1', expectedVerb: 'list' },
    { name: 'metadata.name selector with watch', url: '/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1', expectedName: 'name1', expectedVerb: 'watch' },
    { name: 'random selector', url: '/apis/group/version/resource?fieldSelector=foo=bar', expectedName: '', expectedVerb: 'list' },
    { name: 'invalid selector with metadata.name', url: '/apis/group/version/resource?fieldSelector=metadata.name=name1,foo', expectedName: '', expectedVerb: 'list' },
    { name: 'invalid selector with metadata.name with watch', url: '/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=true', expectedName: '', expectedVerb: 'watch' },
    { name: 'invalid selector with metadata.name with watch false', url: '/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=false', expectedName: '', expectedVerb: 'list' },
    // around the ported cases
    { name: '== pins the name too', url: '/api/v1/namespaces/x/secrets?fieldSelector=metadata.name==db', expectedName: 'db', expectedVerb: 'list' },
    { name: '!= pins nothing', url: '/api/v1/namespaces/x/secrets?fieldSelector=metadata.name!=db', expectedName: '', expectedVerb: 'list' },
    { name: 'a second term does not stop the narrowing', url: '/api/v1/namespaces/x/pods?fieldSelector=status.phase=Running,metadata.name=web', expectedName: 'web', expectedVerb: 'list' },
    { name: 'an escaped comma is part of the value', url: '/api/v1/namespaces/x/pods?fieldSelector=spec.nodeName=a\\,b,metadata.name=web', expectedName: 'web', expectedVerb: 'list' },
    { name: 'a name that is no valid path segment is not taken', url: '/api/v1/namespaces/x/pods?fieldSelector=metadata.name=..', expectedName: '', expectedVerb: 'list' },
    { name: 'a name with a slash is not taken', url: '/api/v1/namespaces/x/pods?fieldSelector=metadata.name=a/b', expectedName: '', expectedVerb: 'list' },
    { name: 'a malformed limit makes the server drop every list option, the name included', url: '/api/v1/namespaces/x/pods?fieldSelector=metadata.name=web&limit=ten', expectedName: '', expectedVerb: 'list' },
    { name: 'a malformed limit keeps the watch', url: '/api/v1/namespaces/x/pods?fieldSelector=metadata.name=web&limit=ten&watch=1', expectedName: '', expectedVerb: 'watch' },
    { name: 'a well-formed limit keeps the name', url: '/api/v1/namespaces/x/pods?fieldSelector=metadata.name=web&limit=500', expectedName: 'web', expectedVerb: 'list' },
    { name: 'only the first fieldSelector counts', url: '/api/v1/namespaces/x/pods?fieldSelector=metadata.name=a&fieldSelector=metadata.name=b', expectedName: 'a', expectedVerb: 'list' },
    { name: 'a leading space is part of the field name', url: '/api/v1/namespaces/x/pods?fieldSelector=%20metadata.name=web', expectedName: '', expectedVerb: 'list' },
  ];
  for (const c of CASES) {
    test(c.name, () => {
      const info = parse('GET', c.url);
      assert.equal(info.name, c.expectedName);
      assert.equal(info.verb, c.expectedVerb);
    });
  }

  // TestSelectorParsing (AuthorizeWithSelectors): which requests carry their selectors
  const SELECTORS: Array<{ name: string; method: string; url: string; expectedName: string; expectedVerb: string; fieldSelector?: string; labelSelector?: string }> = [
    { name: 'no selector', method: 'GET', url: '/apis/group/version/resource', expectedName: '', expectedVerb: 'list' },
    { name: 'metadata.name selector', method: 'GET', url: '/apis/group/version/resource?fieldSelector=metadata.name=name1', expectedName: 'name1', expectedVerb: 'list', fieldSelector: 'metadata.name=name1' },
    { name: 'random selector', method: 'GET', url: '/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux', expectedName: '', expectedVerb: 'list', fieldSelector: 'foo=bar', labelSelector: 'baz=qux' },
    { name: 'invalid selector with metadata.name', method: 'GET', url: '/apis/group/version/resource?fieldSelector=metadata.name=name1,foo', expectedName: '', expectedVerb: 'list', fieldSelector: 'metadata.name=name1,foo' },
    { name: 'selector on deletecollection is honored', method: 'DELETE', url: '/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux', expectedName: '', expectedVerb: 'deletecollection', fieldSelector: 'foo=bar', labelSelector: 'baz=qux' },
    { name: 'selector on repeated param matches parsed param', method: 'GET', url: '/apis/group/version/resource?fieldSelector=metadata.name=foo&fieldSelector=metadata.name=bar&labelSelector=foo=bar&labelSelector=foo=baz', expectedName: 'foo', expectedVerb: 'list', fieldSelector: 'metadata.name=foo', labelSelector: 'foo=bar' },
    { name: 'selector on other verb is ignored', method: 'GET', url: '/apis/group/version/resource/name?fieldSelector=foo=bar&labelSelector=foo=bar', expectedName: 'name', expectedVerb: 'get' },
    { name: 'selector on deprecated root type watch is not parsed', method: 'GET', url: '/apis/group/version/watch/resource?fieldSelector=metadata.name=foo&labelSelector=foo=bar', expectedName: '', expectedVerb: 'watch' },
    { name: 'selector on deprecated root item watch is not parsed', method: 'GET', url: '/apis/group/version/watch/resource/name?fieldSelector=metadata.name=foo&labelSelector=foo=bar', expectedName: 'name', expectedVerb: 'watch' },
  ];
  for (const c of SELECTORS) {
    test(`selectors: ${c.name}`, () => {
      const info = parse(c.method, c.url);
      assert.equal(info.name, c.expectedName);
      assert.equal(info.verb, c.expectedVerb);
      assert.equal(info.fieldSelector, c.fieldSelector);
      assert.equal(info.labelSelector, c.labelSelector);
    });
  }

  test('a named get is not narrowed or turned into a list by a selector', () => {
    const info = parse('GET', '/api/v1/namespaces/x/pods/web?fieldSelector=metadata.name=other&watch=true');
    assert.equal(info.verb, 'get');
    assert.equal(info.name, 'web');
  });
});

describe('Kubernetes request info: connect requests, the namespace object, odd methods', () => {
  const CONNECT: Array<[string, string, string, string]> = [
    ['GET', '/api/v1/namespaces/d/pods/web/exec?command=ls', 'exec', 'get'],
    ['POST', '/api/v1/namespaces/d/pods/web/exec?command=ls', 'exec', 'create'],
    ['GET', '/api/v1/namespaces/d/pods/web/attach?stdin=true', 'attach', 'get'],
    ['GET', '/api/v1/namespaces/d/pods/web/portforward?ports=8080', 'portforward', 'get'],
    ['POST', '/api/v1/namespaces/d/pods/web/portforward', 'portforward', 'create'],
    ['GET', '/api/v1/namespaces/d/pods/web/proxy/metrics', 'proxy', 'get'],
    ['DELETE', '/api/v1/namespaces/d/pods/web:8080/proxy/admin', 'proxy', 'delete'],
    ['GET', '/api/v1/namespaces/d/services/http:web:80/proxy/', 'proxy', 'get'],
    ['GET', '/api/v1/nodes/node-1/proxy/pods', 'proxy', 'get'],
    ['GET', '/api/v1/proxy/nodes/node-1/pods', 'proxy', 'proxy'],
  ];
  for (const [method, url, connect, verb] of CONNECT) {
    test(`${method} ${url}: connect ${connect}, verb ${verb} (the API server's)`, () => {
      const info = parse(method, url);
      assert.equal(info.connect, connect);
      assert.equal(info.verb, verb);
    });
  }

  test('an ordinary subresource opens no stream', () => {
    assert.equal(parse('GET', '/api/v1/namespaces/d/pods/web/log').connect, undefined);
    assert.equal(parse('PATCH', '/apis/apps/v1/namespaces/d/deployments/api/scale').connect, undefined);
  });

  test('methods are matched exactly, as Go compares them: a lowercase or unknown method has no verb', () => {
    assert.equal(parse('get', '/api/v1/namespaces/d/pods').verb, '');
    assert.equal(parse('OPTIONS', '/api/v1/namespaces/d/pods').verb, '');
    assert.equal(parse('PROPFIND', '/api/v1/namespaces/d/pods/web').verb, '');
  });

  test('a non-resource request keeps the lowercased method as its verb and its canonical path', () => {
    const info = parse('POST', '/apis/apps/v1/');
    assert.equal(info.isResourceRequest, false);
    assert.equal(info.verb, 'post');
    assert.equal(info.path, '/apis/apps/v1');
  });

  test('the namespace object is in its own namespace whatever the method (current API servers dropped the PATCH exception)', () => {
    assert.equal(parse('PATCH', '/api/v1/namespaces/fresh').namespace, 'fresh');
    assert.equal(parse('PATCH', '/api/v1/namespaces/fresh/status').namespace, 'fresh');
    assert.equal(parse('GET', '/api/v1/namespaces/fresh').namespace, 'fresh');
  });
});

describe('Kubernetes request paths: canonical, or refused where readers could disagree', () => {
  const REFUSED: Array<[string, RegExp]> = [
    ['/api/v1/namespaces/x/pods/a%2Fb', /encoded slash/],
    ['/api/v1/namespaces/x/pods/a%2fb', /encoded slash/],
    ['/api/v1/namespaces/x/pods/a%5Cb', /encoded slash/],
    ['/api/v1/namespaces/x/pods/..', /"\.\." segment/],
    ['/api/v1/namespaces/x/pods/%2e%2e/y', /"\.\." segment/],
    ['/api/v1/namespaces/x/pods/%2E', /"\." segment/],
    ['/api/v1/namespaces/x/./pods', /"\." segment/],
    ['/api/v1//namespaces/x/pods', /empty segment/],
    ['/api/v1/namespaces/x/pods//', /empty segment/],
    ['//api/v1/pods', /empty segment/],
    ['/api/v1/namespaces/x/pods/a%25b', /percent/],
    ['/api/v1/namespaces/x/pods/a%zzb', /malformed/],
    ['/api/v1/namespaces/x/pods/a%2', /malformed/],
    ['/api/v1/namespaces/x/pods/a%00b', /control/],
    ['/api/v1/namespaces/x/pods/a%0Ab', /control/],
    ['/api/v1/namespaces/x/pods/%ff', /UTF-8/],
    ['/api/v1/namespaces/x/pods/a\\b', /"\\"/],
    ['/api/v1/namespaces/x/pods/a b', /percent-encoded/],
    ['/api/v1/namespaces/x/pods/é', /percent-encoded/],
    ['api/v1/pods', /does not start/],
    ['/api/v1/pods#frag', /"#"/],
  ];
  for (const [path, why] of REFUSED) {
    test(`${JSON.stringify(path)} is refused`, () => {
      const result = canonicalK8sPath(path);
      assert.ok('error' in result, `${path} should be refused`);
      assert.match(result.error, why);
      const info = parseRequestInfo({ method: 'GET', path, query: [] });
      assert.ok(isK8sRequestError(info));
      assert.equal(info.status, 400);
    });
  }

  const CANONICAL: Array<[string, string]> = [
    ['/api/v1/pods/', '/api/v1/pods'],
    ['/api/v1/namespaces/x/%70ods/%77eb', '/api/v1/namespaces/x/pods/web'],
    ['/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aaggregate-to-admin', '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregate-to-admin'],
    ['/api/v1/namespaces/x/pods/caf%C3%A9', '/api/v1/namespaces/x/pods/caf%C3%A9'],
    ['/', '/'],
  ];
  for (const [raw, canonical] of CANONICAL) {
    test(`${raw} → ${canonical}`, () => {
      const result = canonicalK8sPath(raw);
      assert.ok(!('error' in result), `${raw} refused`);
      assert.equal(result.path, canonical);
      assert.equal(parse('GET', raw).path, canonical);
    });
  }

  test('a query parameter with a semicolon is refused (Go drops such pairs, other parsers keep them)', () => {
    const info = parseRequestInfo({ method: 'DELETE', path: '/api/v1/namespaces/x/pods/web', query: [['dryRun', 'All;x=1']] });
    assert.ok(isK8sRequestError(info));
    assert.match(info.error, /";"/);
  });
});

describe('Kubernetes request paths: properties over generated paths', () => {
  /** pieces an agent could splice into a path: ordinary names, escapes of every kind, dots, slashes */
  const PIECES = ['api', 'apis', 'v1', 'apps', 'namespaces', 'prod', 'pods', 'secrets', 'web-1', 'exec', 'watch', 'proxy', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '%25', '%70', '%3A', '%3F', '%20', '%00', '%c3%a9', '%ff', '%', '%g1', '~', ':', '@', '\\', '?', ';', '=', ''];
  const random = seededRandom(13);
  const pick = (): string => PIECES[Math.floor(random() * PIECES.length)] as string;

  function generatedPath(): string {
    const segments: string[] = [];
    const count = 1 + Math.floor(random() * 8);
    for (let i = 0; i < count; i++) segments.push(pick() + (random() < 0.3 ? pick() : ''));
    return `/${segments.join('/')}${random() < 0.2 ? '/' : ''}`;
  }

  test('every accepted path is canonical once (idempotent) and has no empty, dot or slash-bearing segment', () => {
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 5000; i++) {
      const raw = generatedPath();
      const result = canonicalK8sPath(raw);
      if ('error' in result) {
        refused++;
        assert.equal(result.status, 400);
        continue;
      }
      accepted++;
      for (const segment of result.segments) {
        assert.ok(segment !== '' && segment !== '.' && segment !== '..', `${raw}: segment ${JSON.stringify(segment)}`);
        assert.ok(!/[/\\%]/.test(segment), `${raw}: segment ${JSON.stringify(segment)}`);
      }
      const again = canonicalK8sPath(result.path);
      assert.ok(!('error' in again), `${raw} → ${result.path} refused the second time`);
      assert.equal(again.path, result.path, `${raw}: not idempotent`);
      assert.deepEqual(again.segments, result.segments);
      // the request info of the canonical path is the request info of the raw one
      for (const method of ['GET', 'DELETE', 'POST']) {
        const a = parseRequestInfo({ method, path: raw, query: [] });
        const b = parseRequestInfo({ method, path: result.path, query: [] });
        assert.deepEqual(a, b, `${method} ${raw}`);
      }
    }
    assert.ok(accepted > 200 && refused > 200, `accepted ${accepted}, refused ${refused}: the generator should exercise both`);
  });
});

describe('Kubernetes request info: ";" in the query, as Go reads it', () => {
  const exec = '/api/v1/namespaces/default/pods/web-1/exec';
  test('an encoded %3B is data: `kubectl exec -- sh -c "a; b"` reads whole', () => {
    const rawQuery = 'command=sh&command=-c&command=a%3B%20b&stdout=true';
    const info = parseRequestInfo({ method: 'GET', path: exec, query: [...new URLSearchParams(rawQuery)], rawQuery });
    assert.ok(!('error' in info), JSON.stringify(info));
  });
  test('a raw ";" would hide a pair from the API server: refused', () => {
    const rawQuery = 'command=sh;x=1&stdout=true';
    const info = parseRequestInfo({ method: 'GET', path: exec, query: [...new URLSearchParams(rawQuery)], rawQuery });
    assert.ok('error' in info && /%3B/.test(info.error), JSON.stringify(info));
  });
});
