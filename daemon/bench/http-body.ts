import { MaskingPolicy } from '@airlock/shared';
import { compileMasking } from '../src/masking/masker.js';
import { createBodyMasker, planBody } from '../src/proxies/http/body/index.js';
import { seededRandom } from '../test/helpers/seeded-random.js';
import type { BenchSection } from './report.js';

const BODY_BYTES = Number(process.env["AIRLOCK_BENCH_BODY_MB"] ?? 100) * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const RUNS = 3;
const TARGET_MB_PER_S = 50;
const SEED = 0x48545450;

const FIRST = ['Alice', 'Bruno', 'Chloé', 'Dmitri', 'Emma', 'Farid', 'Greta', 'Hiroshi', 'Ines', 'Jamal', 'Katarzyna', 'Liam', 'Maria', 'Noah', 'Olga', 'Pedro'];
const LAST = ['Smith', 'Müller', 'García', 'Kowalski', 'Nguyen', 'Okafor', "O'Brien", 'Rossi', 'Tanaka', 'Dubois', 'Johansson', 'Novak'];
const CITIES = ['Berlin', 'Lagos', 'São Paulo', 'Osaka', 'Toronto', 'Lyon', 'Kraków', 'Austin'];
const WORDS = 'building tools for data teams open source maintainer coffee hiking distributed systems and compilers writes about databases'.split(' ');

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function digits(random: () => number, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += String(Math.floor(random() * 10));
  return out;
}

function phone(random: () => number): string {
  return random() < 0.5 ? `+1 (${digits(random, 3)}) ${digits(random, 3)}-${digits(random, 4)}` : `+44 20 ${digits(random, 4)} ${digits(random, 4)}`;
}

/**
 * A user record as a user-directory API returns it: ids, a UUID, login, name, email, phone,
 * timestamps, URLs, a short bio, counts and flags; one in ten carries a password hash and one in
 * twenty an API token. Every record has an email and a phone number to mask.
 */
function userRecord(random: () => number, id: number): string {
  const first = pick(random, FIRST);
  const last = pick(random, LAST);
  const login = `${first.toLowerCase().normalize('NFD').replace(/[^a-z]/g, '')}${id}`;
  const record: Record<string, unknown> = {
    id,
    node_id: `U_kgDO${digits(random, 8)}`,
    uuid: `${digits(random, 8)}-${digits(random, 4)}-4${digits(random, 3)}-a${digits(random, 3)}-${digits(random, 12)}`,
    login,
    name: `${first} ${last}`,
    email: `${login}@example.com`,
    phone: phone(random),
    company: random() < 0.5 ? null : `@example-${Math.floor(random() * 100)}`,
    location: pick(random, CITIES),
    bio: Array.from({ length: 4 + Math.floor(random() * 10) }, () => pick(random, WORDS)).join(' '),
    avatar_url: `https://avatars.example.com/u/${id}?v=4`,
    html_url: `https://example.com/${login}`,
    followers: Math.floor(random() * 5000),
    public_repos: Math.floor(random() * 200),
    site_admin: random() < 0.01,
    created_at: new Date(Date.UTC(2015, 0, 1) + Math.floor(random() * 3e11)).toISOString(),
    updated_at: new Date(Date.UTC(2023, 0, 1) + Math.floor(random() * 3e10)).toISOString(),
  };
  if (id % 10 === 0) record['password'] = `$2b$12$${digits(random, 20)}abcdefghijklmnopqrstuvwxyzABCDEF`;
  if (id % 20 === 0) record['api_token'] = `tok_${digits(random, 32)}`;
  return JSON.stringify(record);
}

/** The records joined into one JSON array of about BODY_BYTES, cut in CHUNK_BYTES chunks as a socket delivers them. */
export function usersBody(): Buffer[] {
  const random = seededRandom(SEED);
  const records: string[] = [];
  let size = 2;
  for (let id = 1; size < BODY_BYTES; id++) {
    const record = userRecord(random, id);
    records.push(record);
    size += record.length + 1;
  }
  const whole = Buffer.from(`[${records.join(',')}]`);
  const chunks: Buffer[] = [];
  for (let at = 0; at < whole.length; at += CHUNK_BYTES) chunks.push(whole.subarray(at, at + CHUNK_BYTES));
  return chunks;
}

/** The best wall-clock and CPU seconds of `runs` runs (CPU time: the machine may be shared with other work). */
function bestOf(runs: number, run: () => unknown): { wall: number; cpu: number } {
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const startCpu = process.cpuUsage();
    run();
    const used = process.cpuUsage(startCpu);
    wall = Math.min(wall, Number(process.hrtime.bigint() - start) / 1e9);
    cpu = Math.min(cpu, (used.user + used.system) / 1e6);
  }
  return { wall, cpu };
}

export async function benchHttpBody(): Promise<BenchSection> {
  const chunks = usersBody();
  const bytes = chunks.reduce((sum, c) => sum + c.length, 0);
  const mb = bytes / (1024 * 1024);
  const masker = compileMasking(MaskingPolicy.parse({}), 'api');
  const plan = planBody({ contentType: 'application/json' });
  let maskedBytes = 0;
  let cells = 0;
  const masking = bestOf(RUNS, () => {
    const bodyMasker = createBodyMasker(plan, { masker, excerptBytes: 64 * 1024, bufferBytes: 1024 * 1024, secrets: ['ghp_ExampleInjectedToken0123456789abcd'] });
    maskedBytes = 0;
    for (const chunk of chunks) maskedBytes += bodyMasker.push(chunk).length;
    maskedBytes += bodyMasker.end().length;
    cells = bodyMasker.report().cells;
  });
  const copy = bestOf(RUNS, () => {
    let copied = 0;
    for (const chunk of chunks) copied += Buffer.from(chunk).length;
    return copied;
  });
  const parse = bestOf(RUNS, () => {
    const text = Buffer.concat(chunks).toString('utf8');
    return Buffer.from(JSON.stringify(JSON.parse(text))).length;
  });
  await Promise.resolve();
  return {
    title: `HTTP body masking (a ${mb.toFixed(0)} MB JSON array of user records with PII, ${CHUNK_BYTES / 1024} KiB chunks)`,
    figures: [
      { name: 'JSON body masker', value: mb / masking.wall, unit: 'MB/s', baseline: { name: 'JSON.parse + JSON.stringify', value: mb / parse.wall }, target: { op: '>=', value: TARGET_MB_PER_S } },
      { name: 'JSON body masker, CPU time', value: mb / masking.cpu, unit: 'MB/s', baseline: { name: 'JSON.parse + JSON.stringify, CPU time', value: mb / parse.cpu }, target: { op: '>=', value: TARGET_MB_PER_S } },
      { name: 'JSON body masker vs a plain copy', value: mb / masking.wall, unit: 'MB/s', baseline: { name: 'copy', value: mb / copy.wall } },
    ],
    notes: [
      `${cells.toLocaleString('en-US')} values masked; ${(maskedBytes / (1024 * 1024)).toFixed(1)} MB out (credential redactor, excerpt and SHA-256 included)`,
      'CPU time is the figure to read on a shared machine; most of it is the content detectors (screenBytes, email and phone) on the string values',
    ],
  };
}
