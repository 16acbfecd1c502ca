import { MaskingPolicy } from '@airlock/shared';
import { compileMasking } from '../src/masking/masker.js';
import { MaskReportBuilder } from '../src/masking/report.js';
import { chunked, streamThrough, streamingText } from './masking.js';

/** `node daemon/dist/bench/stream-profile.js [MB]`: streams MB (200) of log-like text through the stream masker, for --cpu-prof. */
const total = Number(process.argv[2] ?? 200) * 1e6;
const corpus = chunked(streamingText(20e6));
const masker = compileMasking(MaskingPolicy.parse({}), 'bench-host');
const report = new MaskReportBuilder();
let bytes = 0;
let out = 0;
const started = process.hrtime.bigint();
while (bytes < total) {
  out += streamThrough(masker, corpus, report);
  bytes += 20e6;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`${(bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(2)} s: ${(bytes / 1e6 / seconds).toFixed(1)} MB/s; out ${out}; ${JSON.stringify(report.toReport().byDetector)}`);
