import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MaskingPolicy } from '@airlock/shared';
import { compileMasking } from '../../src/masking/index.js';
import { createBodyMasker, planBody } from '../../src/proxies/http/body/index.js';
import { ShortBytesCache } from '../../src/proxies/http/body/byte-cache.js';
import { createK8sResponseMasker } from '../../src/proxies/kubernetes/masking/index.js';
import { seededRandom } from '../helpers/seeded-random.js';

/**
 * The JSON masker remembers keys (with a guess of the next one) and short values the detectors
 * left unchanged. These tests hold it to what it does without them: records that come after
 * others (warm caches) are masked exactly as each record alone in a fresh masker (cold caches),
 * in any chunking.
 */

const masker = compileMasking(MaskingPolicy.parse({ columns: [{ columns: ['internal_*'], label: 'INTERNAL' }] }), 'api');
const JSON_PLAN = planBody({ contentType: 'application/json' });
const TOKEN = 'ghp_R3alCredentialValue0123456789abcdef';

/** Values with something to mask, values that open a detector's gate and pass, and plain ones; short enough to be cached. */
const VALUES = [
  '10.244.0.7',
  '172.18.0.2',
  '192.168.100.200',
  '+1 415 555 0100',
  '(020) 7946 0958',
  'jane.doe@example.com',
  '4111 1111 1111 1111',
  '4111111111111111',
  // one byte apart from a value above, and passed (no Luhn, no address): a cache must tell them apart
  '4111111111111112',
  '5111111111111111',
  'jane.doe@example,com',
  'DE89370400440532013000',
  'AKIAIOSFODNN7EXAMPLE',
  'Bearer abcdefghijklmnopqrstuvwxyz012345',
  'password=hunter2-but-longer',
  'c2VjcmV0IHBhc3N3b3JkPWh1bnRlcjI=',
  'cGFzc3dvcmQ9aHVudGVyMmh1bnRlcjI=',
  'dGhpcyBpcyBmaW5l',
  '2026-12-06T01:02:23Z',
  'a79dd191-c4be-4681-94f7-5c723134b17e',
  'nginx:1.27',
  'production',
  'Running',
  '1004',
  'caf\u00e9 10.0.0.1',
  'line\\nbreak 10.1.2.3',
  'x',
  '',
];
const KEYS = ['name', 'ip', 'podIP', 'hostIP', 'email', 'phone', 'token', 'password', 'internal_id', 'note', 'data', 'value', 'api_key', 'Name', 'tokem', 'xoken', 'passwore', 'na\\u006de'];

function randomRecord(random: () => number, depth = 0): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const record: Record<string, unknown> = {};
  const keys = 1 + Math.floor(random() * 6);
  for (let k = 0; k < keys; k++) {
    const roll = random();
    const key = pick(KEYS);
    if (roll < 0.1 && depth < 2) record[key] = randomRecord(random, depth + 1);
    else if (roll < 0.15 && depth < 2) record[key] = [randomRecord(random, depth + 1), pick(VALUES)];
    else if (roll < 0.2) record[key] = Math.floor(random() * 1e15);
    else record[key] = pick(VALUES);
  }
  return record;
}

/** The JSON text of a record, with `\\u006d`-style escapes in keys kept as written. */
function recordText(record: unknown): string {
  return JSON.stringify(record).replace(/\\\\u006d/g, '\\u006d').replace(/\\\\n/g, '\\n');
}

function maskAll(text: string, cuts: number[], make = () => createBodyMasker(JSON_PLAN, { masker, excerptBytes: 1024, bufferBytes: 64 * 1024, secrets: [TOKEN] })) {
  const body = Buffer.from(text);
  const m = make();
  const parts: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < body.length).sort((a, b) => a - b), body.length]) {
    parts.push(Buffer.from(m.push(body.subarray(at, cut))));
    at = cut;
  }
  parts.push(Buffer.from(m.end()));
  return { text: Buffer.concat(parts).toString('utf8'), byDetector: m.report().byDetector };
}

function sumCounts(reports: Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const report of reports) for (const [name, count] of Object.entries(report)) sum[name] = (sum[name] ?? 0) + count;
  return sum;
}

describe('JSON masker caches (differential: warm against cold)', () => {
  test('an array of random records is masked as each record alone, whole and in random chunks', () => {
    const random = seededRandom(1313);
    for (let round = 0; round < 150; round++) {
      const records = Array.from({ length: 2 + Math.floor(random() * 40) }, () => recordText(randomRecord(random)));
      // records repeat (as in a list): the caches see the same keys and values again
      const repeated = [...records, ...records.slice(0, Math.floor(random() * records.length))];
      const cold = repeated.map((r) => maskAll(r, []));
      const expected = `[${cold.map((c) => c.text).join(',')}]`;
      const whole = `[${repeated.join(',')}]`;
      const cuts = Array.from({ length: Math.floor(random() * 30) }, () => Math.floor(random() * whole.length));
      for (const chunking of [[], cuts]) {
        const warm = maskAll(whole, chunking);
        assert.equal(warm.text, expected, `round ${round}: ${whole}`);
        assert.deepEqual(warm.byDetector, sumCounts(cold.map((c) => c.byDetector)), `round ${round}: counts`);
      }
    }
  });

  test('a body whose values do not repeat (the cache given up after its trial) is masked as each record alone', () => {
    // 400 records with a unique email (masked) and a unique IP-like value (passed) each, then repeated ones
    const records = Array.from({ length: 400 }, (_, i) => JSON.stringify({ email: `user${i}@example.com`, ip: `10.${i % 250}.${Math.floor(i / 250)}.7`, card: '4111 1111 1111 1111', host: '172.18.0.2' }));
    const all = [...records, ...records.slice(0, 50)];
    const cold = all.map((r) => maskAll(r, []));
    const warm = maskAll(`[${all.join(',')}]`, [7, 4096, 50_000]);
    assert.equal(warm.text, `[${cold.map((c) => c.text).join(',')}]`);
    assert.deepEqual(warm.byDetector, sumCounts(cold.map((c) => c.byDetector)));
    assert.equal(warm.text.includes('@example.com'), false);
  });

  test('the Kubernetes masker gives a list of pods item by item what it gives each pod alone', () => {
    const pod = (i: number, ip: string) => ({
      metadata: { name: `pod-${i}`, labels: { app: 'bench' }, uid: `a79dd191-c4be-4681-94f7-5c723134b1${String(i % 100).padStart(2, '0')}`, resourceVersion: String(1000 + i) },
      spec: { containers: [{ name: 'app', image: 'nginx:1.27', env: [{ name: 'DB_PASSWORD', value: 'hunter2' }, { name: 'CONTACT', value: 'ops@example.com' }, { name: 'MODE', value: ip }] }] },
      status: { podIP: ip, hostIP: '172.18.0.2' },
    });
    const ips = ['10.244.0.7', '192.168.100.200', '+1 415 555 0100', '10.244.0.7'];
    const items = Array.from({ length: 60 }, (_, i) => pod(i, ips[i % ips.length] as string));
    const k8s = () => createK8sResponseMasker({ resource: 'pods', subresource: '', verb: 'list', apiGroup: '' }, JSON_PLAN, { masker, excerptBytes: 1024, bufferBytes: 64 * 1024, secrets: [TOKEN] });
    const list = (pods: unknown[]) => JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: pods });
    const whole = maskAll(list(items), [], k8s);
    const alone = items.map((p) => maskAll(list([p]), [], k8s));
    const expectedItems = alone.map((a) => (JSON.parse(a.text) as { items: unknown[] }).items[0]);
    assert.deepEqual((JSON.parse(whole.text) as { items: unknown[] }).items, expectedItems);
    assert.deepEqual(whole.byDetector, sumCounts(alone.map((a) => a.byDetector)));
    // and the masking did happen: the env credential and the email in every pod
    assert.equal(whole.text.includes('hunter2'), false);
    assert.equal(whole.text.includes('ops@example.com'), false);
  });
});

describe('ShortBytesCache', () => {
  const bytes = (text: string) => Buffer.from(`"${text}"`);
  const get = (cache: ShortBytesCache<string>, text: string) => cache.get(bytes(text), 1, text.length + 1)?.value;
  const set = (cache: ShortBytesCache<string>, text: string) => cache.set(bytes(text), 1, text.length + 1, text.toUpperCase());

  test('finds what was set, by its bytes, whether the guess of the next string is right or wrong', () => {
    const cache = new ShortBytesCache<string>(64, 100);
    for (const key of ['name', 'labels', 'name', 'image', 'name', 'value']) if (get(cache, key) === undefined) set(cache, key);
    // the order changes: every guess is wrong, every answer still right
    for (const key of ['value', 'name', 'image', 'labels', 'nam', 'names', 'name']) {
      const known = ['name', 'labels', 'image', 'value'].includes(key);
      assert.equal(get(cache, key), known ? key.toUpperCase() : undefined, key);
    }
    // the same order twice: found again (through the guesses)
    for (let round = 0; round < 2; round++) for (const key of ['name', 'labels', 'image', 'value']) assert.equal(get(cache, key), key.toUpperCase());
  });

  test('a guess with the same length and other bytes is not taken', () => {
    const cache = new ShortBytesCache<string>(64, 100);
    set(cache, 'abcd');
    set(cache, 'wxyz');
    assert.equal(get(cache, 'abcd'), 'ABCD');
    // the guess after abcd is wxyz: wxya has its length and three of its bytes
    assert.equal(get(cache, 'wxya'), undefined);
    assert.equal(get(cache, 'abcd'), 'ABCD');
    assert.equal(get(cache, 'wxyz'), 'WXYZ');
  });

  test('stays bounded: starts over when full, and strings over its length are never kept', () => {
    const cache = new ShortBytesCache<string>(8, 4);
    for (const key of ['a1', 'a2', 'a3', 'a4']) set(cache, key);
    assert.equal(get(cache, 'a4'), 'A4');
    set(cache, 'a5');
    assert.equal(get(cache, 'a1'), undefined);
    assert.equal(get(cache, 'a5'), 'A5');
    set(cache, 'much-longer-than-eight');
    assert.equal(get(cache, 'much-longer-than-eight'), undefined);
  });
});
