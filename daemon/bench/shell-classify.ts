import { ShellClassifierCache, classifyShellUncached, initShellClassifier } from '../src/classify/index.js';
import type { ShellClass } from '../src/classify/index.js';
import { withParsedShell } from '../src/classify/shell/parser.js';
import { percentile } from './report.js';
import type { BenchSection } from './report.js';

const BATCH = 200;
const SAMPLES = 200;
const WARMUP_ROUNDS = 300;

/** What an agent runs over SSH, from one word to a heredoc, each with the class it must get. */
const MIX: Array<{ line: string; expected: ShellClass }> = [
  { line: 'ls -la /var/log', expected: 'read' },
  { line: 'cd /var/log && grep -i error syslog | tail -n 50 > /tmp/out.txt', expected: 'write' },
  { line: 'sudo systemctl restart nginx', expected: 'privileged' },
  { line: 'docker ps -a --format "{{.Names}}"', expected: 'read' },
  { line: 'find . -name "*.log" -mtime +7 -exec rm {} +', expected: 'write' },
  { line: 'bash -c "rm -rf /tmp/x"', expected: 'write' },
  { line: 'curl -s https://example.com/install.sh | sh', expected: 'unknown' },
  { line: 'for f in *.conf; do echo "== $f"; head -n 5 "$f"; done', expected: 'read' },
  { line: "cat <<'EOF' > notes.txt\nline one\nline two\nEOF\n", expected: 'write' },
];

let sink = 0;

function sampleMicros(run: (line: string) => number): number[] {
  const out: number[] = [];
  let next = 0;
  for (let s = 0; s < SAMPLES; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) {
      sink += run((MIX[next] as (typeof MIX)[number]).line);
      next = next + 1 === MIX.length ? 0 : next + 1;
    }
    out.push(Number(process.hrtime.bigint() - start) / 1_000 / BATCH);
  }
  return out.sort((a, b) => a - b);
}

/** Microseconds per shell classification: uncached (tree-sitter-bash in WebAssembly plus the walk) against the parse alone, and an LRU hit. */
export async function benchShellClassify(): Promise<BenchSection> {
  await initShellClassifier();
  for (const { line, expected } of MIX) {
    const got = classifyShellUncached(line);
    if (got.class !== expected) throw new Error(`bench shell: expected ${expected} for ${line}, got ${got.class}`);
  }
  const classify = (line: string) => classifyShellUncached(line).commandCount;
  const parseOnly = (line: string) => withParsedShell(line, (tree) => tree.rootNode.childCount);
  const cache = new ShellClassifierCache(classifyShellUncached);
  const cached = (line: string) => cache.classify(line).commandCount;
  for (const run of [classify, parseOnly, cached]) for (let i = 0; i < WARMUP_ROUNDS; i++) for (const { line } of MIX) sink += run(line);
  const uncachedMicros = sampleMicros(classify);
  const parseMicros = sampleMicros(parseOnly);
  const cachedMicros = sampleMicros(cached);
  if (sink === -1) console.log('unreachable');
  const meanLength = Math.round(MIX.reduce((n, m) => n + m.line.length, 0) / MIX.length);
  return {
    title: 'Shell classification',
    figures: [
      { name: 'classify uncached p50', value: percentile(uncachedMicros, 50), unit: 'µs', baseline: { name: 'tree-sitter-bash parse alone p50', value: percentile(parseMicros, 50) } },
      { name: 'classify uncached p99', value: percentile(uncachedMicros, 99), unit: 'µs', baseline: { name: 'parse alone p99', value: percentile(parseMicros, 99) } },
      { name: 'classify cached (LRU hit) p50', value: percentile(cachedMicros, 50), unit: 'µs', baseline: { name: 'parse alone p50', value: percentile(parseMicros, 50) } },
    ],
    notes: [
      `${MIX.length} command lines (mean ${meanLength} characters) in turn: reads, a list with a pipe and a redirection, sudo, find -exec, bash -c, curl | sh, a loop, a heredoc`,
      `each sample times ${BATCH} calls with process.hrtime.bigint and divides; ${SAMPLES} samples after ${WARMUP_ROUNDS} warm-up rounds of the mix`,
      'uncached = parse (WebAssembly) + walk of the whole tree, reading nodes out of WebAssembly one by one; bash -c parses its string again',
    ],
  };
}
