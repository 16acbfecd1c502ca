import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MaskingPolicy } from '@airlock/shared';
import { compileMasking } from '../../src/masking/index.js';
import { MALFORMED_WITHHELD_LABEL, planBody } from '../../src/proxies/http/body/index.js';
import type { BodyMaskerOptions, BodyPlan } from '../../src/proxies/http/body/index.js';
import {
  LAST_APPLIED_ANNOTATION,
  LAST_APPLIED_LABEL,
  REDACTED,
  REDACTED_BASE64,
  SECRET_LABEL,
  TOKEN_LABEL,
  createK8sResponseMasker,
  planK8sResponse,
} from '../../src/proxies/kubernetes/masking/index.js';
import type { K8sResponseRequest } from '../../src/proxies/kubernetes/masking/index.js';

/**
 * The Kubernetes response masker (pure): Secrets' values replaced keeping their keys, decided by
 * the request and by the content, in single objects, lists, watch streams and Tables; the
 * last-applied annotation; TokenRequests; content detectors on the rest; and an adversarial
 * corpus of shapes an agent could get a Secret's values in.
 */

const masker = compileMasking(MaskingPolicy.parse({}), 'staging');
const JSON_PLAN = planBody({ contentType: 'application/json' });
const TABLE_PLAN = planBody({ contentType: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
const TEXT_PLAN = planBody({ contentType: 'text/plain' });
const BUFFER_BYTES = 64 * 1024;

const PASSWORD = 'hunter2-correct-horse';
const PASSWORD_B64 = Buffer.from(PASSWORD).toString('base64');
const API_KEY = 'sk-live-0123456789abcdefXYZ';
const API_KEY_B64 = Buffer.from(API_KEY).toString('base64');
/** what must never come out */
const SECRET_FORMS = [PASSWORD, PASSWORD_B64, API_KEY, API_KEY_B64];

function request(resource: string, more: Partial<K8sResponseRequest> = {}): K8sResponseRequest {
  return { resource, subresource: '', verb: 'get', apiGroup: '', ...more };
}
const SECRETS = request('secrets');
const CONFIGMAPS = request('configmaps');

function options(overrides: Partial<BodyMaskerOptions> = {}): BodyMaskerOptions {
  return { masker, excerptBytes: 4096, bufferBytes: BUFFER_BYTES, secrets: [], ...overrides };
}

function maskChunks(req: K8sResponseRequest, chunks: readonly Uint8Array[], plan: BodyPlan = JSON_PLAN, overrides: Partial<BodyMaskerOptions> = {}) {
  const bodyMasker = createK8sResponseMasker(req, plan, options(overrides));
  const pushed = chunks.map((chunk) => Buffer.from(bodyMasker.push(chunk)));
  const ended = Buffer.from(bodyMasker.end());
  return { pushed, output: Buffer.concat([...pushed, ended]).toString('utf8'), report: bodyMasker.report() };
}

function mask(req: K8sResponseRequest, body: string | object, plan: BodyPlan = JSON_PLAN, overrides: Partial<BodyMaskerOptions> = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return maskChunks(req, [Buffer.from(text)], plan, overrides);
}

function assertNoSecret(output: string): void {
  for (const form of SECRET_FORMS) assert.ok(!output.includes(form), `${form} leaked in ${output.slice(0, 400)}`);
}

function secret(name: string, withKind = true): Record<string, unknown> {
  return {
    ...(withKind ? { kind: 'Secret', apiVersion: 'v1' } : {}),
    metadata: { name, namespace: 'prod', resourceVersion: '12' },
    data: { password: PASSWORD_B64, 'api-key': API_KEY_B64 },
    type: 'Opaque',
  };
}

function configMap(name: string, withKind = true): Record<string, unknown> {
  return { ...(withKind ? { kind: 'ConfigMap', apiVersion: 'v1' } : {}), metadata: { name, namespace: 'prod' }, data: { mode: 'fast', 'log.level': 'debug', owner: 'ops-team@example.com' } };
}

/** Every split of `body` in two, through a fresh masker: the same output as in one piece. */
function assertEveryCutSame(req: K8sResponseRequest, body: string, plan: BodyPlan = JSON_PLAN): string {
  const bytes = Buffer.from(body);
  const whole = maskChunks(req, [bytes], plan).output;
  for (let at = 1; at < bytes.length; at++) {
    const split = maskChunks(req, [bytes.subarray(0, at), bytes.subarray(at)], plan).output;
    assert.equal(split, whole, `cut at ${at}`);
  }
  return whole;
}

describe('Secrets by the request and by the content', () => {
  test('a single Secret: every data value is the fixed marker, the keys and everything else stay', () => {
    const { output, report } = mask(SECRETS, secret('db'));
    assertNoSecret(output);
    const parsed = JSON.parse(output) as { data: Record<string, string>; metadata: { name: string }; type: string };
    assert.deepEqual(Object.keys(parsed.data), ['password', 'api-key']);
    assert.equal(parsed.data.password, REDACTED_BASE64);
    // the marker is base64, so a typed client decodes it; it reads as the marker
    assert.equal(Buffer.from(parsed.data['api-key']!, 'base64').toString(), REDACTED);
    assert.equal(parsed.metadata.name, 'db');
    assert.equal(parsed.type, 'Opaque');
    assert.equal(report.byDetector[SECRET_LABEL], 2);
  });

  test('stable: the same Secret read twice gives the same bytes, and two different values the same marker', () => {
    const a = mask(SECRETS, secret('db')).output;
    const b = mask(SECRETS, secret('db')).output;
    assert.equal(a, b);
    const other = mask(SECRETS, { ...secret('db'), data: { password: Buffer.from('another').toString('base64'), 'api-key': API_KEY_B64 } }).output;
    assert.equal(other, a);
  });

  test('stringData keeps its keys and loses its values (a dry-run create echoes it)', () => {
    const { output } = mask(request('secrets', { verb: 'create' }), { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'x' }, stringData: { password: PASSWORD }, data: { token: API_KEY_B64 } });
    assertNoSecret(output);
    assert.deepEqual(JSON.parse(output).stringData, { password: REDACTED });
  });

  test('a Secret answered to a request that is not about secrets is masked by its kind', () => {
    assertNoSecret(mask(CONFIGMAPS, secret('db')).output);
    assertNoSecret(mask(request('widgets', { apiGroup: 'example.com' }), secret('db')).output);
  });

  test('a request about secrets masks what the content calls a ConfigMap', () => {
    const { output } = mask(SECRETS, { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x' }, data: { password: PASSWORD } });
    assertNoSecret(output);
  });

  test('SecretList: items carry no kind on the wire, the list says what they are', () => {
    const list = { kind: 'SecretList', apiVersion: 'v1', metadata: { resourceVersion: '9' }, items: [secret('a', false), secret('b', false), secret('c', false)] };
    const { output, report } = mask(request('secrets', { verb: 'list' }), list);
    assertNoSecret(output);
    assert.equal(report.byDetector[SECRET_LABEL], 6);
    // the same list under a request for something else: the list kind alone masks
    assertNoSecret(mask(request('things', { verb: 'list' }), list).output);
  });

  test('ConfigMapList: values go through the content detectors only', () => {
    const list = { kind: 'ConfigMapList', apiVersion: 'v1', metadata: {}, items: [configMap('a', false), configMap('b', false)] };
    const { output, report } = mask(request('configmaps', { verb: 'list' }), list);
    const items = (JSON.parse(output) as { items: Array<{ data: Record<string, string> }> }).items;
    assert.equal(items[0]!.data.mode, 'fast');
    assert.equal(items[1]!.data['log.level'], 'debug');
    assert.ok(!output.includes('ops-team@example.com'), 'the email is masked by the detectors');
    assert.equal(report.byDetector[SECRET_LABEL], undefined);
  });

  test('a List of mixed kinds (kubectl get all -o json): its Secret item is masked, its ConfigMap item is not', () => {
    const list = { apiVersion: 'v1', kind: 'List', metadata: {}, items: [configMap('settings'), secret('db'), { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'p' } }] };
    const { output } = mask(CONFIGMAPS, list);
    assertNoSecret(output);
    const items = (JSON.parse(output) as { items: Array<{ data?: Record<string, string> }> }).items;
    assert.equal(items[0]!.data!.mode, 'fast');
    assert.equal(items[1]!.data!.password, REDACTED_BASE64);
  });

  test('a ConfigMap with an email in a value: the detector masks it, the other values pass byte for byte', () => {
    const body = JSON.stringify({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'c' }, data: { contact: 'alice.smith@example.com', mode: 'fast', url: 'https://example.com/x' } });
    const { output, report } = mask(CONFIGMAPS, body);
    assert.ok(!output.includes('alice.smith@example.com'));
    const data = JSON.parse(output).data as Record<string, string>;
    assert.equal(data.mode, 'fast');
    assert.equal(data.url, 'https://example.com/x');
    assert.ok((report.byDetector.email ?? 0) >= 1);
  });

  test('a Secret whose data is not a map is replaced whole; a null value stays null', () => {
    const { output } = mask(SECRETS, { kind: 'Secret', data: PASSWORD_B64 });
    assert.equal(JSON.parse(output).data, REDACTED_BASE64);
    const nulls = JSON.parse(mask(SECRETS, { kind: 'Secret', data: { a: null, b: { nested: PASSWORD } } }).output) as { data: Record<string, unknown> };
    assert.equal(nulls.data.a, null);
    assert.equal(nulls.data.b, REDACTED_BASE64);
  });

  test('an Event about a Secret: the reference stays, a token in its message is masked by the detectors', () => {
    const token = 'ghp_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';
    const event = { kind: 'Event', apiVersion: 'v1', metadata: { name: 'e' }, involvedObject: { kind: 'Secret', name: 'db', namespace: 'prod' }, message: `rotated to ${token}`, type: 'Normal' };
    const { output } = mask(request('events', { verb: 'list' }), event);
    assert.ok(!output.includes(token));
    assert.equal(JSON.parse(output).involvedObject.name, 'db');
  });
});

describe('watch streams', () => {
  const events = [
    { type: 'ADDED', object: secret('a') },
    { type: 'MODIFIED', object: { ...secret('a'), data: { password: API_KEY_B64 } } },
    { type: 'BOOKMARK', object: { kind: 'Secret', apiVersion: 'v1', metadata: { resourceVersion: '40' } } },
    { type: 'DELETED', object: secret('a') },
  ];
  const stream = events.map((e) => JSON.stringify(e) + '\n').join('');
  const WATCH = request('secrets', { verb: 'watch' });

  test('every event of a secrets watch is masked, cut at every byte', () => {
    const output = assertEveryCutSame(WATCH, stream);
    assertNoSecret(output);
    const lines = output.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 4);
    for (const line of lines) assert.equal(JSON.parse(line).type !== undefined, true);
    assert.equal(JSON.parse(lines[1]!).object.data.password, REDACTED_BASE64);
  });

  test('byte by byte: each event goes out whole as soon as its last byte arrived (no event waits for the next)', () => {
    const bodyMasker = createK8sResponseMasker(WATCH, JSON_PLAN, options());
    let out = '';
    const bytes = Buffer.from(stream);
    let lineEnds = 0;
    for (let i = 0; i < bytes.length; i++) {
      out += Buffer.from(bodyMasker.push(bytes.subarray(i, i + 1))).toString('utf8');
      if (bytes[i] === 0x0a) {
        lineEnds++;
        assert.ok(out.endsWith('\n'), `event ${lineEnds} went out whole`);
        assert.equal(out.split('\n').length - 1, lineEnds);
        JSON.parse(out.split('\n')[lineEnds - 1]!);
      }
    }
    out += Buffer.from(bodyMasker.end()).toString('utf8');
    assertNoSecret(out);
  });

  test('a watch on configmaps: a Secret event (content) is masked, ConfigMap events are not', () => {
    const mixed = [{ type: 'ADDED', object: configMap('c') }, { type: 'ADDED', object: secret('s') }].map((e) => JSON.stringify(e)).join('\n') + '\n';
    const output = assertEveryCutSame(request('configmaps', { verb: 'watch' }), mixed);
    assertNoSecret(output);
    const [first] = output.split('\n');
    assert.equal(JSON.parse(first!).object.data.mode, 'fast');
  });

  test('watch is read from `watch` too (a list request with watch=true), and the event type is not a Secret type', () => {
    const output = mask(request('configmaps', { verb: 'list', watch: true }), stream).output;
    assertNoSecret(output);
    assert.equal(output.split('\n').length, 5);
  });

  test('an ERROR event (a Status) passes', () => {
    const error = JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version: 1 (40)', reason: 'Expired', code: 410 } }) + '\n';
    assert.equal(mask(WATCH, error).output, error);
  });
});

describe('Tables (as=Table)', () => {
  const table = (rows: unknown[]) => ({
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: '5' },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name' },
      { name: 'Type', type: 'string' },
      { name: 'Data', type: 'string' },
      { name: 'Age', type: 'string' },
    ],
    rows,
  });
  const row = (object: unknown) => ({ cells: ['db', 'Opaque', 2, '5m'], object });

  test('includeObject=Object: each row object is the Secret, masked; cells stay', () => {
    const body = JSON.stringify(table([row(secret('a')), row(secret('b'))]));
    const output = assertEveryCutSame(request('secrets', { verb: 'list' }), body, TABLE_PLAN);
    assertNoSecret(output);
    const parsed = JSON.parse(output) as { rows: Array<{ cells: unknown[]; object: { data: Record<string, string> } }> };
    assert.deepEqual(parsed.rows[0]!.cells, ['db', 'Opaque', 2, '5m']);
    assert.deepEqual(Object.keys(parsed.rows[1]!.object.data), ['password', 'api-key']);
  });

  test('includeObject=Metadata: the partial objects pass unchanged', () => {
    const body = JSON.stringify(table([row({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'a', namespace: 'prod' } })]));
    assert.equal(mask(request('secrets', { verb: 'list' }), body, TABLE_PLAN).output, body);
  });

  test('a Table answered to another request whose row objects are Secrets: masked by their kind', () => {
    assertNoSecret(mask(request('things', { verb: 'list' }), table([row(secret('a'))]), TABLE_PLAN).output);
  });

  test('a Table whose row object is a Secret without its kind, for a secrets request', () => {
    assertNoSecret(mask(request('secrets', { verb: 'list' }), table([row(secret('a', false))]), TABLE_PLAN).output);
  });

  test('a watch of Tables (kubectl get -w): each event is a Table, its row objects masked', () => {
    const body = [table([row(secret('a'))]), table([row(secret('b'))])].map((t) => JSON.stringify({ type: 'ADDED', object: t })).join('\n') + '\n';
    assertNoSecret(mask(request('secrets', { verb: 'watch' }), body, TABLE_PLAN).output);
    assertNoSecret(mask(request('things', { verb: 'watch' }), body, TABLE_PLAN).output);
  });
});

describe('the last-applied-configuration annotation', () => {
  const withAnnotation = (object: Record<string, unknown>, annotation: string) => ({
    ...object,
    metadata: { ...(object.metadata as Record<string, unknown>), annotations: { [LAST_APPLIED_ANNOTATION]: annotation, team: 'payments' } },
  });
  // kubectl writes the annotation with its keys sorted and a line break at the end: data before kind
  const appliedSecret = JSON.stringify({ apiVersion: 'v1', data: { password: PASSWORD_B64 }, kind: 'Secret', metadata: { name: 'db', namespace: 'prod' }, stringData: { 'api-key': API_KEY }, type: 'Opaque' }) + '\n';

  test('on a Secret: the values inside are masked the same way, keys kept, still JSON with its line break', () => {
    const { output } = mask(SECRETS, withAnnotation(secret('db'), appliedSecret));
    assertNoSecret(output);
    const annotation = (JSON.parse(output) as { metadata: { annotations: Record<string, string> } }).metadata.annotations[LAST_APPLIED_ANNOTATION]!;
    assert.ok(annotation.endsWith('}\n'));
    const inner = JSON.parse(annotation) as { data: Record<string, string>; stringData: Record<string, string>; metadata: { name: string } };
    assert.deepEqual(inner.data, { password: REDACTED_BASE64 });
    assert.deepEqual(inner.stringData, { 'api-key': REDACTED });
    assert.equal(inner.metadata.name, 'db');
  });

  test('a Secret annotation on any object is masked by what it says of itself (a Deployment carrying one)', () => {
    const deployment = { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'api' }, spec: { replicas: 2 } };
    const { output } = mask(request('deployments', { apiGroup: 'apps' }), withAnnotation(deployment, appliedSecret));
    assertNoSecret(output);
  });

  test("on a Deployment whose annotation embeds nothing secret: untouched byte for byte", () => {
    const applied = JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api' }, spec: { replicas: 2, template: { spec: { containers: [{ image: 'nginx:1.27', name: 'web' }] } } } }) + '\n';
    const body = JSON.stringify(withAnnotation({ kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'api' }, spec: { replicas: 2 } }, applied));
    const { output, report } = mask(request('deployments', { apiGroup: 'apps' }), body);
    assert.equal(output, body);
    assert.equal(report.cells, 0);
  });

  test('on a ConfigMap (data before kind in the annotation): the values stay; a detector still masks an email in it', () => {
    const applied = JSON.stringify({ apiVersion: 'v1', data: { mode: 'fast', contact: 'bob.jones@example.com' }, kind: 'ConfigMap', metadata: { name: 'c' } }) + '\n';
    const { output } = mask(CONFIGMAPS, withAnnotation(configMap('c'), applied));
    const annotation = JSON.parse(output).metadata.annotations[LAST_APPLIED_ANNOTATION] as string;
    const inner = JSON.parse(annotation) as { data: Record<string, string> };
    assert.equal(inner.data.mode, 'fast');
    assert.ok(!annotation.includes('bob.jones@example.com'));
  });

  test('an annotation that is not JSON is replaced whole; so is one longer than bufferBytes', () => {
    const broken = mask(SECRETS, withAnnotation(secret('db'), `{"data":{"password":"${PASSWORD_B64}"`));
    assertNoSecret(broken.output);
    assert.equal(JSON.parse(broken.output).metadata.annotations[LAST_APPLIED_ANNOTATION], REDACTED);
    assert.equal(broken.report.byDetector[LAST_APPLIED_LABEL], 1);
    const long = JSON.stringify({ apiVersion: 'v1', data: { password: PASSWORD_B64, pad: 'QUFB'.repeat(200) }, kind: 'Secret' });
    const body = JSON.stringify(withAnnotation(secret('db'), long));
    // cut in small chunks: the annotation is longer than what the masker may hold
    const chunks: Buffer[] = [];
    const bytes = Buffer.from(body);
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const { output } = maskChunks(CONFIGMAPS, chunks, JSON_PLAN, { bufferBytes: 256 });
    assertNoSecret(output);
    assert.equal(JSON.parse(output).metadata.annotations[LAST_APPLIED_ANNOTATION], REDACTED);
    assert.equal(JSON.parse(output).metadata.annotations.team, 'payments');
  });

  test('cut at every byte: the same output', () => {
    assertNoSecret(assertEveryCutSame(SECRETS, JSON.stringify(withAnnotation(secret('db'), appliedSecret))));
  });
});

describe('tokens, env, logs', () => {
  test('a TokenRequest answer: status.token replaced, the rest kept', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cHJvZDpib3QifQ.c2lnbmF0dXJlLXZhbHVlLXNpZ25hdHVyZQ';
    const answer = { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { name: 'bot' }, spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 }, status: { token: jwt, expirationTimestamp: '2026-12-06T00:00:00Z' } };
    const { output, report } = mask(request('serviceaccounts', { subresource: 'token', verb: 'create', apiGroup: '' }), answer);
    assert.ok(!output.includes(jwt));
    const parsed = JSON.parse(output) as typeof answer;
    assert.equal(parsed.status.token, REDACTED);
    assert.equal(parsed.status.expirationTimestamp, '2026-12-06T00:00:00Z');
    assert.equal(report.byDetector[TOKEN_LABEL], 1);
  });

  test('pod env: a token-looking value is masked by the detectors, a value named as a credential by its name, others stay', () => {
    const token = 'ghp_' + 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2';
    const pod = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: 'api' },
      spec: {
        containers: [
          {
            name: 'api',
            image: 'api:1',
            args: ['--token', token],
            env: [
              { name: 'GITHUB_AUTH', value: token },
              { name: 'DB_PASSWORD', value: 'plainpass' },
              { name: 'LOG_LEVEL', value: 'debug' },
              { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
            ],
          },
        ],
      },
    };
    const { output } = mask(request('pods'), pod);
    assert.ok(!output.includes(token), 'env value and args');
    assert.ok(!output.includes('plainpass'));
    const env = (JSON.parse(output) as typeof pod).spec.containers[0]!.env;
    assert.equal(env[1]!.value, REDACTED);
    assert.equal(env[2]!.value, 'debug');
    assert.deepEqual(env[3]!.valueFrom, { secretKeyRef: { name: 'db', key: 'password' } });
  });

  test('key names: schema fields of built-in objects are not credentials (typed clients still decode), user maps and custom resources keep the key rules', () => {
    const pod = JSON.stringify({
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: 'api', labels: { app: 'api' } },
      spec: {
        automountServiceAccountToken: true,
        volumes: [{ name: 'creds', secret: { secretName: 'db' } }, { name: 'tok', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] } }],
        imagePullSecrets: [{ name: 'regcred' }],
      },
    });
    assert.equal(mask(request('pods'), pod).output, pod);
    const cm = mask(CONFIGMAPS, { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'c', annotations: { 'vendor.io/api-token': 'plain-value-1' } }, data: { DB_PASSWORD: 'plain-value-2', mode: 'fast' } }).output;
    assert.ok(!cm.includes('plain-value-1') && !cm.includes('plain-value-2'));
    assert.equal(JSON.parse(cm).data.mode, 'fast');
    const cr = mask(request('widgets', { apiGroup: 'example.com' }), { apiVersion: 'example.com/v1', kind: 'Widget', spec: { password: 'plain-value-3' } }).output;
    assert.ok(!cr.includes('plain-value-3'));
  });

  test('logs (follow): text masked line by line, each complete line out as its line break arrives', () => {
    const awsKey = 'AKIAIOSFODNN7EXAMPLE';
    const lines = ['starting api', `using key ${awsKey} for s3`, 'connected to postgres://app:s3cretPassw0rd@db:5432/app', 'ready'];
    const bodyMasker = createK8sResponseMasker(request('pods', { subresource: 'log' }), TEXT_PLAN, options());
    let out = '';
    for (const line of lines) {
      out += Buffer.from(bodyMasker.push(Buffer.from(line + '\n'))).toString('utf8');
      assert.ok(out.endsWith('\n'), `the line "${line.slice(0, 12)}…" went out`);
    }
    out += Buffer.from(bodyMasker.end()).toString('utf8');
    assert.ok(!out.includes(awsKey));
    assert.ok(!out.includes('s3cretPassw0rd'));
    assert.ok(out.startsWith('starting api\n'));
  });
});

describe('request bodies (the excerpt kept for the record and the approval)', () => {
  test('a Secret being created (kubectl create secret, dry run or not): its values are not recorded', () => {
    const body = JSON.stringify({ kind: 'Secret', apiVersion: 'v1', metadata: { name: 'db' }, data: { password: PASSWORD_B64 }, stringData: { 'api-key': API_KEY } });
    const bodyMasker = createK8sResponseMasker(request('secrets', { verb: 'create' }), JSON_PLAN, options());
    bodyMasker.push(Buffer.from(body));
    bodyMasker.end();
    const excerpt = bodyMasker.excerpt();
    assert.ok(excerpt.text !== undefined && excerpt.text.includes('"password"'));
    assertNoSecret(excerpt.text);
  });

  test('a server-side apply patch in YAML is withheld from the excerpt', () => {
    const plan = planBody({ contentType: 'application/apply-patch+yaml' });
    const bodyMasker = createK8sResponseMasker(request('secrets', { verb: 'patch' }), plan, options());
    bodyMasker.push(Buffer.from(`apiVersion: v1\nkind: Secret\nstringData:\n  password: ${PASSWORD}\n`));
    bodyMasker.end();
    assert.equal(bodyMasker.excerpt().text ?? '', '');
  });
});

describe('proxied answers (pods/proxy, services/proxy)', () => {
  const PROXY = request('services', { subresource: 'proxy', connect: 'proxy' });

  test("the API server's own answer through a service proxy: its Secrets are masked by their content", () => {
    const list = { kind: 'SecretList', apiVersion: 'v1', metadata: {}, items: [secret('a', false)] };
    assertNoSecret(mask(PROXY, list).output);
    assertNoSecret(mask(PROXY, secret('b')).output);
    assertNoSecret(mask(PROXY, JSON.stringify({ type: 'ADDED', object: secret('c') }) + '\n', planBody({ contentType: 'application/x-ndjson' })).output);
  });

  test("an application's JSON with data keys passes (key rules and detectors still apply)", () => {
    const body = JSON.stringify({ data: [{ id: 'abcd', name: 'widget' }], meta: { object: { data: { mode: 'fast' } } } });
    assert.equal(mask(PROXY, body).output, body);
    const withToken = mask(PROXY, { data: { access_token: 'opaque-value-123' } }).output;
    assert.ok(!withToken.includes('opaque-value-123'));
  });

  test("Kubernetes' protobuf through a proxy is withheld", () => {
    assert.ok(planK8sResponse(PROXY, planBody({ contentType: 'application/vnd.kubernetes.protobuf' })).withhold !== undefined);
    assert.equal(planK8sResponse(PROXY, planBody({ contentType: 'text/html' })).withhold, undefined);
  });
});

describe('plans: what cannot be masked by structure is withheld', () => {
  test('protobuf, YAML and CBOR answers of the API server are withheld; so is any non-JSON answer to a secrets request', () => {
    for (const contentType of ['application/vnd.kubernetes.protobuf', 'application/yaml', 'application/cbor']) {
      const plan = planK8sResponse(request('pods'), planBody({ contentType }));
      assert.ok(plan.withhold?.includes('withheld'), contentType);
    }
    assert.ok(planK8sResponse(SECRETS, TEXT_PLAN).withhold !== undefined);
    assert.ok(planK8sResponse(SECRETS, planBody({})).withhold !== undefined);
    // a withheld plan lets nothing through
    const { output } = mask(SECRETS, `data: {password: ${PASSWORD_B64}}`, TEXT_PLAN);
    assert.equal(output, '');
  });

  test('logs are text, discovery is not withheld, JSON is JSON', () => {
    assert.equal(planK8sResponse(request('pods', { subresource: 'log' }), TEXT_PLAN).withhold, undefined);
    assert.equal(planK8sResponse(request('', { isResourceRequest: false }), TEXT_PLAN).withhold, undefined);
    assert.equal(planK8sResponse(SECRETS, TABLE_PLAN).withhold, undefined);
  });

  test('discovery and OpenAPI documents (a Secret schema has data properties) pass byte for byte', () => {
    const openapi = JSON.stringify({
      components: {
        schemas: {
          'io.k8s.api.core.v1.Secret': {
            properties: { data: { additionalProperties: { format: 'byte', type: 'string' }, type: 'object' }, stringData: { additionalProperties: { type: 'string' }, type: 'object' } },
            'x-kubernetes-group-version-kind': [{ group: '', kind: 'Secret', version: 'v1' }],
          },
        },
      },
    });
    assert.equal(mask(request('', { isResourceRequest: false }), openapi).output, openapi);
    const crd = JSON.stringify({ kind: 'CustomResourceDefinition', apiVersion: 'apiextensions.k8s.io/v1', spec: { versions: [{ schema: { openAPIV3Schema: { properties: { data: { type: 'object', additionalProperties: { type: 'string' } } } } } }] } });
    assert.equal(mask(request('customresourcedefinitions', { apiGroup: 'apiextensions.k8s.io' }), crd).output, crd);
  });
});

describe('adversarial corpus', () => {
  const cases: Array<{ name: string; req: K8sResponseRequest; body: string }> = [
    { name: 'data before kind', req: CONFIGMAPS, body: `{"data":{"password":"${PASSWORD_B64}"},"kind":"Secret","apiVersion":"v1"}` },
    { name: 'stringData before kind', req: CONFIGMAPS, body: `{"stringData":{"password":"${PASSWORD}"},"kind":"Secret"}` },
    { name: 'data before kind, no kind at all', req: request('pods'), body: `{"metadata":{"name":"x"},"data":{"k":"${API_KEY_B64}"}}` },
    { name: 'type before data, no kind', req: request('pods'), body: `{"type":"kubernetes.io/basic-auth","data":{"password":"${PASSWORD_B64}"}}` },
    { name: 'duplicate kind, Secret second', req: CONFIGMAPS, body: `{"kind":"ConfigMap","kind":"Secret","data":{"password":"${PASSWORD_B64}"}}` },
    { name: 'duplicate kind, Secret first', req: CONFIGMAPS, body: `{"kind":"Secret","kind":"ConfigMap","data":{"password":"${PASSWORD_B64}"}}` },
    { name: 'escaped key name', req: CONFIGMAPS, body: `{"kind":"Secret","d\\u0061ta":{"password":"${PASSWORD_B64}"}}` },
    { name: 'escaped kind value', req: CONFIGMAPS, body: `{"kin\\u0064":"Secr\\u0065t","data":{"password":"${PASSWORD_B64}"}}` },
    { name: 'escaped stringData key', req: CONFIGMAPS, body: `{"kind":"Secret","\\u0073tringData":{"x":"${PASSWORD}"}}` },
    { name: 'field names in other cases (Go decoders ignore case)', req: CONFIGMAPS, body: `{"Kind":"Secret","DATA":{"password":"${PASSWORD_B64}"},"StringData":{"k":"${PASSWORD}"}}` },
    { name: 'core apiVersion, data before kind', req: request('widgets', { apiGroup: 'example.com' }), body: `{"apiVersion":"v1","data":{"password":"${PASSWORD_B64}"},"kind":"Secret"}` },
    { name: 'a custom group claiming kind Secret before its data', req: request('widgets', { apiGroup: 'example.com' }), body: `{"apiVersion":"example.com/v1","kind":"Secret","data":{"password":"${PASSWORD_B64}"}}` },
    { name: 'lower-case kind', req: CONFIGMAPS, body: `{"kind":"secret","data":{"password":"${PASSWORD_B64}"}}` },
    { name: 'a Secret nested in a custom resource', req: request('backups', { apiGroup: 'example.com' }), body: `{"apiVersion":"example.com/v1","kind":"Backup","spec":{"template":{"kind":"Secret","data":{"password":"${PASSWORD_B64}"}}}}` },
    { name: 'a Secret in items of a Table', req: request('things'), body: `{"kind":"Table","items":[{"kind":"Secret","data":{"password":"${PASSWORD_B64}"}}]}` },
    { name: 'a kindless Secret in items of a Table', req: request('things'), body: `{"kind":"Table","items":[{"data":{"password":"${PASSWORD_B64}"},"type":"Opaque"}]}` },
    { name: 'items before the SecretList kind', req: request('things'), body: `{"items":[{"data":{"password":"${PASSWORD_B64}"}}],"kind":"SecretList"}` },
    { name: 'a SecretList inside a List', req: CONFIGMAPS, body: `{"kind":"List","items":[{"kind":"SecretList","items":[{"data":{"password":"${PASSWORD_B64}"}}]}]}` },
    { name: 'a Secret in an admission review oldObject', req: request('things'), body: `{"kind":"AdmissionReview","request":{"oldObject":{"data":{"password":"${PASSWORD_B64}"},"kind":"Secret"}}}` },
    { name: 'a Secret as a watch event object, event type first', req: request('things', { verb: 'watch' }), body: `{"type":"ADDED","object":{"data":{"password":"${PASSWORD_B64}"},"kind":"Secret"}}\n` },
    { name: 'a watch event whose type claims Secret data', req: request('things', { verb: 'watch' }), body: `{"object":{"kind":"Secret","data":{"k":"${API_KEY_B64}"}},"type":"Opaque"}\n` },
    { name: 'data at the watch event level', req: request('things', { verb: 'watch' }), body: `{"type":"ADDED","data":{"k":"${PASSWORD_B64}"},"object":{}}\n` },
    { name: 'data value an object', req: SECRETS, body: `{"kind":"Secret","data":{"k":{"v":"${PASSWORD}"}}}` },
    { name: 'data value an array', req: SECRETS, body: `{"kind":"Secret","data":{"k":["${PASSWORD}"]}}` },
    { name: 'escaped quote in a Secret value', req: SECRETS, body: `{"kind":"Secret","data":{"k":"\\"${PASSWORD}\\""}}` },
    { name: 'malformed JSON after the first value', req: SECRETS, body: `{"kind":"Secret","data":{"a":"eHg=" "k":"${PASSWORD_B64}"}}` },
    { name: 'a second document after a Secret (not a watch)', req: SECRETS, body: `{"kind":"Secret"} {"data":{"k":"${PASSWORD_B64}"}}` },
    { name: 'annotation with the Secret in a nested List', req: CONFIGMAPS, body: JSON.stringify({ kind: 'ConfigMap', metadata: { annotations: { [LAST_APPLIED_ANNOTATION]: JSON.stringify({ kind: 'List', items: [{ data: { k: PASSWORD_B64 }, kind: 'Secret' }] }) } } }) },
    { name: 'annotation in PartialObjectMetadata (metadata-only list of another resource)', req: request('things', { verb: 'list' }), body: JSON.stringify({ kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', items: [{ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'db', annotations: { [LAST_APPLIED_ANNOTATION]: JSON.stringify({ apiVersion: 'v1', data: { k: PASSWORD_B64 }, kind: 'Secret' }) } } }] }) },
    { name: 'annotation in a Table row of a secrets request (includeObject=Metadata)', req: request('secrets', { verb: 'list' }), body: JSON.stringify({ kind: 'Table', rows: [{ cells: ['db'], object: { kind: 'PartialObjectMetadata', metadata: { annotations: { [LAST_APPLIED_ANNOTATION]: JSON.stringify({ data: { k: PASSWORD_B64 } }) } } } }] }) },
    { name: 'annotation escaped inside', req: CONFIGMAPS, body: `{"kind":"ConfigMap","metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\\"d\\\\u0061ta\\":{\\"k\\":\\"${PASSWORD_B64}\\"},\\"kind\\":\\"Secret\\"}"}}}` },
    { name: 'annotation key escaped', req: CONFIGMAPS, body: `{"kind":"ConfigMap","metadata":{"annotations":{"kubectl.kubernetes.io\\/last-applied-configuration":"{\\"data\\":{\\"k\\":\\"${PASSWORD_B64}\\"},\\"kind\\":\\"Secret\\"}"}}}` },
    { name: 'a string longer than bufferBytes as a Secret value', req: SECRETS, body: `{"kind":"Secret","data":{"k":"${PASSWORD_B64.padEnd(64 * 1024 + 8, 'A')}"}}` },
    { name: 'a long base64 value with data before kind', req: CONFIGMAPS, body: `{"data":{"k":"${(PASSWORD_B64 + 'QUFB'.repeat(20000)).slice(0, 80000)}"},"kind":"Secret"}` },
  ];

  for (const c of cases) {
    test(c.name, () => {
      // in one piece and in chunks of 5 bytes: never the value
      const whole = mask(c.req, c.body);
      assertNoSecret(whole.output);
      const bytes = Buffer.from(c.body);
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += 5) chunks.push(bytes.subarray(i, i + 5));
      assertNoSecret(maskChunks(c.req, chunks).output);
    });
  }

  test('malformed JSON: what came before goes out, the rest is withheld and reported', () => {
    const { output, report } = mask(SECRETS, `{"kind":"Secret","metadata":{"name":"db"},"data":{"a":"eHg=" "k":"${PASSWORD_B64}"}}`);
    assert.ok(output.startsWith('{"kind":"Secret","metadata":{"name":"db"}'));
    assert.equal(report.byDetector[MALFORMED_WITHHELD_LABEL], 1);
  });

  test('a custom resource with a data map of plain words: its kind settles it, nothing masked', () => {
    const body = `{"apiVersion":"example.com/v1","kind":"Widget","spec":{"data":{"mode":"fast","size":"large"}},"data":{"colour":"blue"}}`;
    assert.equal(mask(request('widgets', { apiGroup: 'example.com' }), body).output, body);
  });

  test('a custom resource served with sorted keys (data before kind): its apiVersion settles it, nothing masked', () => {
    const blob = Buffer.from('some harmless configuration blob').toString('base64');
    const body = `{"apiVersion":"example.com/v1","data":{"note":"plain words here","blob":"${blob}"},"kind":"Widget","metadata":{"name":"w"}}`;
    assert.equal(mask(request('widgets', { apiGroup: 'example.com' }), body).output, body);
    const list = `{"apiVersion":"example.com/v1","items":[{"apiVersion":"example.com/v1","data":{"blob":"${blob}"},"kind":"Widget"}],"kind":"WidgetList"}`;
    assert.equal(mask(request('widgets', { apiGroup: 'example.com', verb: 'list' }), list).output, list);
  });

  test('an undecided object (data before kind): base64 values masked, plain words kept', () => {
    const body = `{"apiVersion":"v1","data":{"note":"plain words here","blob":"${API_KEY_B64}"},"kind":"Widget"}`;
    const parsed = JSON.parse(mask(request('widgets', { apiGroup: 'example.com' }), body).output) as { data: Record<string, string> };
    assert.equal(parsed.data.note, 'plain words here');
    assert.equal(parsed.data.blob, REDACTED_BASE64);
  });
});

describe('bounded memory', () => {
  test('a list of 10,000 Secrets streams: output keeps up with input chunk by chunk, every value masked', () => {
    // values as long as the marker, so masked output is exactly as long as the input
    const value = (i: number) => Buffer.from(`pw-${String(i).padStart(9, '0')}`).toString('base64');
    assert.equal(value(1).length, REDACTED_BASE64.length);
    const head = '{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[';
    const item = (i: number) => `${i > 0 ? ',' : ''}{"metadata":{"name":"s${i}","namespace":"prod"},"data":{"password":"${value(i)}","user":"${value(i + 1)}"},"type":"Opaque"}`;
    const bodyMasker = createK8sResponseMasker(request('secrets', { verb: 'list' }), JSON_PLAN, options());
    let pushed = 0;
    let emitted = 0;
    let maxLag = 0;
    let leaked = false;
    const feed = (text: string) => {
      const out = Buffer.from(bodyMasker.push(Buffer.from(text)));
      pushed += Buffer.byteLength(text);
      emitted += out.length;
      maxLag = Math.max(maxLag, pushed - emitted);
      if (out.includes(value(7))) leaked = true;
    };
    feed(head);
    for (let i = 0; i < 10_000; i++) feed(item(i));
    feed(']}');
    emitted += bodyMasker.end().length;
    assert.equal(emitted, pushed);
    assert.ok(!leaked);
    // nothing held but the token being read
    assert.ok(maxLag < 64, `lag ${maxLag}`);
    assert.equal(bodyMasker.report().byDetector[SECRET_LABEL], 20_000);
  });

  test('one huge Secret value (8 MiB) is replaced as a stream: nothing of it held, one marker out', () => {
    const bodyMasker = createK8sResponseMasker(SECRETS, JSON_PLAN, options());
    let out = Buffer.from(bodyMasker.push(Buffer.from('{"kind":"Secret","data":{"blob":"')));
    const piece = Buffer.from('QUJD'.repeat(16 * 1024));
    for (let i = 0; i < 128; i++) out = Buffer.concat([out, Buffer.from(bodyMasker.push(piece))]);
    out = Buffer.concat([out, Buffer.from(bodyMasker.push(Buffer.from('"}}'))), Buffer.from(bodyMasker.end())]);
    assert.equal(out.toString(), `{"kind":"Secret","data":{"blob":"${REDACTED_BASE64}"}}`);
  });
});
