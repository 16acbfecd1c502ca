import { MaskingPolicy } from '@airlock/shared';
import { NOTHING_TO_MASK, compileMasking } from '../src/masking/masker.js';
import type { Masker } from '../src/masking/masker.js';
import { MaskReportBuilder } from '../src/masking/report.js';
import { StreamMasker } from '../src/masking/stream.js';
import type { BenchSection } from './report.js';

const ROWS = 10_000;
const RUNS = 5;
const WARMUP_RUNS = 2;
const SEED = 0x5eed;

/** mulberry32: a small seeded generator, so every run masks the same dataset. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST_NAMES = ['Alice', 'Bruno', 'Chloé', 'Dmitri', 'Emma', 'Farid', 'Greta', 'Hiroshi', 'Ines', 'Jamal', 'Katarzyna', 'Liam', 'Maria', 'Noah', 'Olga', 'Pedro'];
const LAST_NAMES = ['Smith', 'Müller', 'García', 'Kowalski', 'Nguyen', 'Okafor', "O'Brien", 'Rossi', 'Tanaka', 'Dubois', 'Johansson', 'Novak'];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.net', 'example.co.uk'];
const WORDS = (
  'the customer asked about delivery of order and wants a refund because the package arrived late ' +
  'please check invoice status before shipping next week support ticket escalated to billing team ' +
  'address changed recently confirmed by phone call notes follow up on monday with warehouse'
).split(' ');

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function digits(random: () => number, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += String(Math.floor(random() * 10));
  return out;
}

function luhnCheckDigit(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

function card(random: () => number): string {
  const prefix = pick(random, ['4', '51', '55', '2221', '6011']);
  const payload = prefix + digits(random, 15 - prefix.length);
  const number = payload + luhnCheckDigit(payload);
  return random() < 0.5 ? number.replace(/(\d{4})(?=\d)/g, '$1 ') : number;
}

function ibanCheckDigits(country: string, bban: string): string {
  const rearranged = bban + country + '00';
  let remainder = 0;
  for (const ch of rearranged) {
    const value = ch >= 'A' ? ch.charCodeAt(0) - 55 : Number(ch);
    remainder = (remainder * (value >= 10 ? 100 : 10) + value) % 97;
  }
  return String(98 - remainder).padStart(2, '0');
}

function iban(random: () => number): string {
  const [country, bban] = pick(random, [
    ['DE', () => digits(random, 18)],
    ['FR', () => digits(random, 23)],
    ['NL', () => 'ABNA' + digits(random, 10)],
    ['GB', () => 'WEST' + digits(random, 14)],
  ] as const);
  const body = bban();
  const compact = country + ibanCheckDigits(country, body) + body;
  return random() < 0.6 ? compact.replace(/(.{4})(?=.)/g, '$1 ') : compact;
}

function phone(random: () => number): string {
  switch (Math.floor(random() * 4)) {
    case 0:
      return `+1 (${digits(random, 3)}) ${digits(random, 3)}-${digits(random, 4)}`;
    case 1:
      return `+44 20 ${digits(random, 4)} ${digits(random, 4)}`;
    case 2:
      return `${1 + Math.floor(random() * 8)}${digits(random, 2)}-${digits(random, 3)}-${digits(random, 4)}`;
    default:
      return `+49${digits(random, 10)}`;
  }
}

function freeText(random: () => number, name: string, email: string, phoneNumber: string): string {
  const words: string[] = [];
  const count = 6 + Math.floor(random() * 20);
  for (let i = 0; i < count; i++) words.push(pick(random, WORDS));
  const roll = random();
  if (roll < 0.1) words.splice(3, 0, `contact ${email}`);
  else if (roll < 0.2) words.splice(3, 0, `call ${phoneNumber}`);
  else if (roll < 0.3) words.splice(2, 0, `for ${name}`);
  return words.join(' ');
}

function uuid(random: () => number): string {
  const hex = () => Math.floor(random() * 16).toString(16);
  let out = '';
  for (let i = 0; i < 32; i++) {
    if (i === 8 || i === 12 || i === 16 || i === 20) out += '-';
    out += hex();
  }
  return out;
}

function isoTimestamp(random: () => number): string {
  const ms = Date.UTC(2023, 0, 1) + Math.floor(random() * 730 * 86_400_000);
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** 10,000 rows of a customers-and-orders result: 10 text columns, about half of them sensitive. */
export function maskingDataset(): { columns: string[]; rows: string[][] } {
  const random = seededRandom(SEED);
  const columns = ['id', 'full_name', 'email', 'phone', 'card_number', 'iban', 'notes', 'amount', 'created_at', 'status'];
  const rows: string[][] = [];
  for (let i = 0; i < ROWS; i++) {
    const first = pick(random, FIRST_NAMES);
    const last = pick(random, LAST_NAMES);
    const email = `${first.toLowerCase().normalize('NFD').replace(/[^a-z]/g, '')}.${last.toLowerCase().replace(/[^a-z]/g, '')}${i}@${pick(random, DOMAINS)}`;
    const phoneNumber = phone(random);
    rows.push([
      uuid(random),
      `${first} ${last}`,
      email,
      phoneNumber,
      card(random),
      iban(random),
      freeText(random, `${first} ${last}`, email, phoneNumber),
      (random() * 10_000).toFixed(2),
      isoTimestamp(random),
      pick(random, ['open', 'shipped', 'delivered', 'refunded', 'cancelled']),
    ]);
  }
  // cells as the proxy has them: each decoded from its own buffer (flat strings, not concatenations)
  return { columns, rows: rows.map((row) => row.map((cell) => Buffer.from(cell, 'utf8').toString('utf8'))) };
}

/**
 * 10,000 rows of a typical table without PII, as the PostgreSQL bench's wide_typical: ids, uuids,
 * timestamps, a status, amounts, quantities, SKUs, a description and a URL. What most results hold.
 */
export function typicalDataset(): string[][] {
  const random = seededRandom(SEED + 1);
  const rows: string[][] = [];
  const start = Date.UTC(2026, 0, 1);
  for (let i = 1; i <= ROWS; i++) {
    const created = new Date(start + i * 37_000).toISOString().replace('T', ' ').slice(0, 19) + '+00';
    const updated = new Date(start + i * 53_000 + 123).toISOString().replace('T', ' ').slice(0, 23) + '456+00';
    rows.push([
      String(1_000_000_000 + i * 7919),
      uuid(random),
      created,
      updated,
      pick(random, ['active', 'pending', 'shipped', 'cancelled']),
      ((i % 10_000) * 1.37).toFixed(2),
      String(i % 97),
      `SKU-${String(i % 5000).padStart(5, '0')}`,
      `Widget model ${i % 50} in blue, size ${i % 12}, restocked weekly from the north warehouse`,
      `https://shop.example.com/products/${i % 5000}?ref=list`,
    ]);
  }
  return rows;
}

let sink = 0;

function maskAll(masker: Masker, rows: readonly string[][], report: MaskReportBuilder): number {
  let changed = 0;
  for (const row of rows) {
    for (let c = 0; c < row.length; c++) {
      const cell = row[c] as string;
      const masked = masker.maskCell(cell, undefined, report);
      if (masked !== cell) {
        changed++;
        sink += masked.length;
      }
    }
  }
  return changed;
}

/** What a proxy does with every cell even without masking: look at it. */
function touchAll(rows: readonly string[][]): number {
  let total = 0;
  for (const row of rows) {
    for (let c = 0; c < row.length; c++) {
      const cell = row[c] as string;
      total += cell.length + cell.indexOf('@');
    }
  }
  return total;
}

/** What the PostgreSQL proxy does per cell: screen its bytes, decode and mask only what the screen lets through. */
function screenAndMaskAll(masker: Masker, rows: readonly Buffer[][], report: MaskReportBuilder): number {
  let decoded = 0;
  for (const row of rows) {
    for (const cell of row) {
      const screened = masker.screenBytes(cell, 0, cell.length);
      if (screened === NOTHING_TO_MASK) continue;
      decoded++;
      sink += masker.maskCell(cell.toString('utf8'), undefined, report, screened).length;
    }
  }
  return decoded;
}

function bestSeconds(run: () => void, warmups = WARMUP_RUNS, runs = RUNS): number {
  for (let i = 0; i < warmups; i++) run();
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return best;
}

export async function benchMasking(): Promise<BenchSection> {
  const { columns, rows } = maskingDataset();
  const masker = compileMasking(MaskingPolicy.parse({}), 'bench-db');
  let bytes = 0;
  for (const row of rows) for (const cell of row) bytes += Buffer.byteLength(cell, 'utf8');
  const megabytes = bytes / 1e6;

  const report = new MaskReportBuilder();
  const changed = maskAll(masker, rows, report);
  const counts = report.toReport().byDetector;

  const maskSeconds = bestSeconds(() => {
    sink += maskAll(masker, rows, new MaskReportBuilder());
  });
  const touchSeconds = bestSeconds(() => {
    sink += touchAll(rows);
  });
  if (sink === -1) console.log('unreachable');

  const typicalRows = typicalDataset().map((row) => row.map((cell) => Buffer.from(cell, 'utf8')));
  let typicalBytes = 0;
  for (const row of typicalRows) for (const cell of row) typicalBytes += cell.length;
  const typicalDecoded = screenAndMaskAll(masker, typicalRows, new MaskReportBuilder());
  const typicalSeconds = bestSeconds(() => {
    sink += screenAndMaskAll(masker, typicalRows, new MaskReportBuilder());
  });

  // SSH exec output: a stream of log-like text in 32 KiB chunks, as the SSH proxy hands them over
  const streamChunks = chunked(streamingText(STREAM_BYTES));
  const streamReport = new MaskReportBuilder();
  streamThrough(masker, streamChunks, streamReport);
  const streamCounts = Object.entries(streamReport.toReport().byDetector)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  const streamSeconds = bestSeconds(() => {
    sink += streamThrough(masker, streamChunks, new MaskReportBuilder());
  }, 1, 3);
  const streamEncodeSeconds = bestSeconds(
    () => {
      for (const chunk of streamChunks) sink += Buffer.from(chunk, 'utf8').length;
    },
    1,
    3,
  );

  const perDetector = Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ${n.toLocaleString('en-US')}`)
    .join(', ');
  return {
    title: 'Masking',
    figures: [
      {
        name: `maskCell throughput, ${ROWS.toLocaleString('en-US')} rows × ${columns.length} text columns, all detectors`,
        value: megabytes / maskSeconds,
        unit: 'MB/s',
        baseline: { name: 'iterate cells (length + indexOf @)', value: megabytes / touchSeconds },
        target: { op: '>=', value: 100 },
      },
      { name: 'time per result', value: maskSeconds * 1e3, unit: 'ms' },
      {
        name: `screenBytes + maskCell, ${ROWS.toLocaleString('en-US')} rows × 10 columns of a typical table without PII`,
        value: typicalBytes / 1e6 / typicalSeconds,
        unit: 'MB/s',
      },
      {
        name: `StreamMasker throughput, ${STREAM_BYTES / 1e6} MB of log-like text (journal lines, JSON logs, code, base64, a few secrets) in 32 KiB chunks`,
        value: STREAM_BYTES / 1e6 / streamSeconds,
        unit: 'MB/s',
        baseline: { name: 'encode the chunks as UTF-8', value: STREAM_BYTES / 1e6 / streamEncodeSeconds },
      },
    ],
    notes: [
      `stream: ${streamChunks.length} chunks; matches: ${streamCounts}`,
      `columns: ${columns.join(', ')}; ${(bytes / 1e6).toFixed(2)} MB of UTF-8 input, seeded dataset; best of ${RUNS} runs after ${WARMUP_RUNS} warm-up runs`,
      `cells changed: ${changed.toLocaleString('en-US')} of ${(ROWS * columns.length).toLocaleString('en-US')}; per detector: ${perDetector}`,
      `typical table: ${(typicalBytes / 1e6).toFixed(2)} MB (ids, uuids, timestamps, status, amount, quantity, SKU, description, URL); cells the screen passed on to maskCell: ${typicalDecoded.toLocaleString('en-US')} of ${(ROWS * 10).toLocaleString('en-US')}`,
    ],
  };
}

// --- streaming (SSH exec output) ------------------------------------------------------------------

const STREAM_CHUNK = 32 * 1024;
const STREAM_BYTES = 20e6;

/**
 * Realistic terminal output, `bytes` long: journalctl-like lines, JSON logs, source code, base64
 * blobs, a `ls -l` listing, and now and then a secret (an email, a card, a token, a URL password,
 * an AWS key id, a private key block) — about one line in 400. Seeded.
 */
export function streamingText(bytes: number, seed = SEED + 2): string {
  const random = seededRandom(seed);
  const parts: string[] = [];
  let length = 0;
  const hex = (n: number) => {
    let out = '';
    for (let i = 0; i < n; i++) out += Math.floor(random() * 16).toString(16);
    return out;
  };
  const b64 = (n: number) => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    let out = '';
    for (let i = 0; i < n; i++) out += alphabet[Math.floor(random() * 64)];
    return out;
  };
  const secrets = [
    () => `notify ${pick(random, FIRST_NAMES).toLowerCase().normalize('NFD').replace(/[^a-z]/g, '')}@${pick(random, DOMAINS)} about the refund`,
    () => `payment card ${card(random)} declined`,
    () => `export GITHUB_TOKEN=ghp_${b64(36).replace(/[+/]/g, 'x')}`,
    () => `DATABASE_URL=postgres://app:${hex(12)}@db.internal:5432/app`,
    () => `aws_access_key_id = AKIA${b64(16).toUpperCase().replace(/[^A-Z0-9]/g, 'Q')}`,
    () => `-----BEGIN RSA PRIVATE KEY-----\n${b64(64)}\n${b64(64)}\n${b64(40)}=\n-----END RSA PRIVATE KEY-----`,
    () => `Authorization: Bearer ${b64(40).replace(/[+/]/g, '9')}`,
    () => `call ${phone(random)} tomorrow`,
    () => `iban ${iban(random)}`,
  ];
  let i = 0;
  while (length < bytes) {
    i++;
    const t = new Date(Date.UTC(2026, 11, 5) + i * 137).toISOString();
    const roll = random();
    let line: string;
    if (roll < 0.0025) line = pick(random, secrets)();
    else if (roll < 0.4)
      line = `${t.slice(5, 10).replace('-', ' ')} ${t.slice(11, 19)} web-${i % 7} ${pick(random, ['nginx', 'sshd', 'systemd', 'kernel', 'cron'])}[${1000 + (i % 30000)}]: ${pick(random, ['Started', 'Accepted publickey for deploy from 10.0.3.' + (i % 255) + ' port ' + (40000 + (i % 20000)) + ' ssh2', 'GET /api/v1/items/' + (i % 997) + ' HTTP/1.1 200 ' + (i % 5000), 'Reached target Multi-User System.', 'session opened for user root by (uid=0)'])}`;
    else if (roll < 0.65)
      line = JSON.stringify({ ts: t, level: pick(random, ['info', 'warn', 'debug']), msg: pick(random, WORDS) + ' ' + pick(random, WORDS), request_id: hex(16), duration_ms: i % 900, status: 200, path: `/v1/orders/${i % 10007}` });
    else if (roll < 0.85)
      line = pick(random, [
        `  const result = await client.query(sql, [id, limit]); // ${pick(random, WORDS)}`,
        `function handle${i % 50}(request: Request, response: Response): void {`,
        `    if (options.timeout > 0 && elapsed >= options.timeout) throw new TimeoutError('took ${i % 100} s');`,
        `import { createServer } from 'node:http';`,
        `  }`,
        ``,
      ]);
    else if (roll < 0.93) line = b64(76);
    else line = `-rw-r--r-- 1 deploy deploy ${i % 100000} Dec  5 01:${String(i % 60).padStart(2, '0')} file-${hex(8)}.log`;
    parts.push(line);
    length += line.length + 1;
  }
  return parts.join('\n') + '\n';
}

/** Streams the chunks through a fresh StreamMasker; returns the characters emitted. */
export function streamThrough(masker: Masker, chunks: readonly string[], report: MaskReportBuilder): number {
  const stream = new StreamMasker(masker, report);
  let out = 0;
  for (const chunk of chunks) out += stream.push(chunk).length;
  return out + stream.flush().length;
}

export function chunked(text: string, size = STREAM_CHUNK): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += size) chunks.push(Buffer.from(text.slice(i, i + size), 'utf8').toString('utf8'));
  return chunks;
}
