/** asciicast v2, the terminal recordings the replay's terminal lane plays (SSH shells, kubectl exec). Pure. */

export interface AsciicastFrame {
  /** seconds from the start of the cast */
  time: number;
  data: string;
}

export interface Asciicast {
  width: number;
  height: number;
  /** output frames only ("o"), in order */
  frames: AsciicastFrame[];
}

/**
 * Parses an asciicast v2 recording (a JSON header line, then `[time, code, data]` lines) for the
 * terminal lane. Input and marker events are skipped; a malformed line is an error naming it.
 */
export function parseAsciicast(text: string): Asciicast {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error('asciicast: empty recording');
  let header: { version?: unknown; width?: unknown; height?: unknown };
  try {
    header = JSON.parse(lines[0]!) as typeof header;
  } catch {
    throw new Error('asciicast: line 1 is not a JSON header');
  }
  if (header.version !== 2 || typeof header.width !== 'number' || typeof header.height !== 'number') throw new Error('asciicast: line 1 is not a version 2 header with width and height');
  const frames: AsciicastFrame[] = [];
  for (let i = 1; i < lines.length; i++) {
    let event: unknown;
    try {
      event = JSON.parse(lines[i]!);
    } catch {
      throw new Error(`asciicast: line ${i + 1} is not JSON`);
    }
    if (!Array.isArray(event) || typeof event[0] !== 'number' || typeof event[1] !== 'string' || typeof event[2] !== 'string') throw new Error(`asciicast: line ${i + 1} is not [time, code, data]`);
    if (event[1] === 'o') frames.push({ time: event[0], data: event[2] });
  }
  return { width: header.width, height: header.height, frames };
}

/** How long a cast plays, in ms: its last output frame's time. */
export function castDurationMs(cast: Asciicast): number {
  return Math.round((cast.frames.at(-1)?.time ?? 0) * 1000);
}

/** How many frames have been shown by `seconds` into the cast. */
export function framesUntil(cast: Asciicast, seconds: number): number {
  let n = 0;
  while (n < cast.frames.length && cast.frames[n]!.time <= seconds) n++;
  return n;
}
