import { z } from 'zod';

/**
 * What was left out of a text an action, event or record keeps only the head of (a statement, a
 * command, a body): the whole text's size and digest, so a reader knows how much there was and can
 * check a copy of it against the recording without the recording having held it.
 */
export const TextCut = z.object({
  /** UTF-8 bytes of the whole text */
  bytes: z.number().int().min(0),
  /** UTF-8 bytes kept (the text shown ends at a character boundary at or before the limit) */
  keptBytes: z.number().int().min(0),
  /** SHA-256 (hex) of the whole text's UTF-8 bytes */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type TextCut = z.infer<typeof TextCut>;

/**
 * A text kept up to a byte limit. `cut` is there only when the text was longer: a short text costs
 * nothing more than itself (no length, no hash), which keeps the per-statement path cheap.
 */
export const BoundedText = z.object({ text: z.string(), cut: TextCut.optional() });
export type BoundedText = z.infer<typeof BoundedText>;

/** 12.3 MB, 64 KiB, 900 bytes: a size as a person reads it. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${trimZero(bytes / 1024)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${trimZero(bytes / (1024 * 1024))} MiB`;
  return `${trimZero(bytes / (1024 * 1024 * 1024))} GiB`;
}

function trimZero(n: number): string {
  return n.toFixed(1).replace(/\.0$/, '');
}

/** "12.3 MiB statement, first 64 KiB shown, sha256 3f2a…": one line saying what a cut text leaves out. */
export function describeCut(cut: TextCut, noun = 'text'): string {
  return `${formatBytes(cut.bytes)} ${noun}, first ${formatBytes(cut.keptBytes)} shown, sha256 ${cut.sha256}`;
}
