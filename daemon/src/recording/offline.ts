import { promises as fs } from 'node:fs';
import { z } from 'zod';
import { RecordingRecord, RecordingSummary } from '@airlock/shared';
import { scanLines } from './lines.js';
import { summarizeLogs } from './session-index.js';

const IndexFile = z.object({ version: z.literal(1), recordings: z.array(RecordingSummary) });

/**
 * The session index as the CLI sees it, without a daemon and without writing anything: the index
 * file, or, when it is missing or unreadable, summaries made from the logs themselves. Newest first.
 */
export async function readIndexReadOnly(indexFile: string, recordingsDir: string): Promise<{ recordings: RecordingSummary[]; fromLogs: boolean }> {
  try {
    const parsed = IndexFile.safeParse(JSON.parse(await fs.readFile(indexFile, 'utf8')));
    if (parsed.success) return { recordings: newestFirst(parsed.data.recordings), fromLogs: false };
  } catch {
    // missing or not JSON: fall back to the logs
  }
  return { recordings: newestFirst(await summarizeLogs(recordingsDir, Number.MAX_SAFE_INTEGER)), fromLogs: true };
}

/**
 * Every complete, valid record of a log in order, stopping at the first line that is not one (a
 * torn tail after a crash, or damage that `verify` will name).
 */
export async function readLogRecords(file: string): Promise<RecordingRecord[]> {
  const records: RecordingRecord[] = [];
  await scanLines(file, ({ bytes, complete }) => {
    if (!complete) return false;
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      return false;
    }
    if (!RecordingRecord.safeParse(value).success) return false;
    records.push(value as RecordingRecord);
    return true;
  });
  return records;
}

function newestFirst(recordings: RecordingSummary[]): RecordingSummary[] {
  return [...recordings].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
}
