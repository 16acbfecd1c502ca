import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';

/**
 * A bounded walk over the start of a git pack (gitformat-pack(5)) that finds the commit objects in it
 * and their parents, so a push can be shown to be a fast-forward. Pure: hashing and zlib's
 * synchronous inflate are computation. Sizes written in the pack are never used to allocate more
 * than the caller's bounds allow.
 */

export type ObjectFormat = 'sha1' | 'sha256';

export const OID_BYTES: Readonly<Record<ObjectFormat, number>> = { sha1: 20, sha256: 32 };

export interface GitPackBounds {
  /** objects read at most; a commit beyond them is not looked for */
  maxObjects: number;
  /** bytes inflated at most, all objects together (delta results included) */
  maxInflatedBytes: number;
}

/**
 * A fast-forward is shown by the commits between the old and the new tip, which git writes first
 * and which inflate to a few hundred bytes each: 20,000 commits and 16 MiB cover any push an agent
 * makes; a bigger one is not walked and counts as not shown (force), never as a fast-forward.
 */
export const DEFAULT_GIT_PACK_BOUNDS: GitPackBounds = { maxObjects: 20_000, maxInflatedBytes: 16 * 1024 * 1024 };

/** How the walk ended. */
export type PackWalkEnd =
  /** every object the header counts was read */
  | 'complete'
  /** the first tree or blob: git's pack-objects writes commits and tags before them (compute_write_order) */
  | 'commits-done'
  /** the bytes stop mid-pack and more of the body may come */
  | 'needs-more'
  /** the body ends mid-pack */
  | 'cut'
  /** the object or inflated-byte bound was reached */
  | 'bounds'
  /** not a pack, or an object git would refuse */
  | 'corrupt';

export interface PackWalk {
  /** commit oid (lowercase hex) → its parents, as git's commit parser reads them */
  commits: Map<string, string[]>;
  end: PackWalkEnd;
  /** why the walk ended early, one sentence (for 'cut', 'bounds', 'corrupt') */
  note?: string;
  objectsRead: number;
}

const PACK_SIGNATURE = [0x50, 0x41, 0x43, 0x4b]; // "PACK"
/** signature, version, object count: three 32-bit words */
const PACK_HEADER_BYTES = 12;
const SUPPORTED_PACK_VERSIONS = new Set([2, 3]);

const OBJ_COMMIT = 1;
const OBJ_TREE = 2;
const OBJ_BLOB = 3;
const OBJ_TAG = 4;
const OBJ_OFS_DELTA = 6;
const OBJ_REF_DELTA = 7;
/** a delta whose base is outside the pack (thin pack) or not understood: its type is not known */
const OBJ_UNKNOWN = -1;

/** git refuses a size or offset varint longer than an unsigned long (64 bits) */
const MAX_VARINT_SHIFT = 64;
/** in a delta copy instruction, size 0 stands for 0x10000 (gitformat-pack(5)) */
const DELTA_COPY_ZERO_SIZE = 0x10000;

interface SeenObject {
  type: number;
  /** kept for commits only, as a base for later deltas */
  data?: Uint8Array;
}

/** The position after a varint, or why it could not be read. */
type Step = { value: number; next: number } | 'short' | 'overflow';

/**
 * Walks the pack that starts at `start`, collecting commits, until it is read, the first tree or blob
 * is met, the bytes run out, a bound is reached or an object is malformed. Stopping early only ever
 * leaves a commit unfound, which makes an update unshown (force), never a false fast-forward.
 */
export function walkPackCommits(bytes: Uint8Array, start: number, complete: boolean, format: ObjectFormat, bounds: GitPackBounds): PackWalk {
  const commits = new Map<string, string[]>();
  const commitData = new Map<string, Uint8Array>();
  const seen = new Map<number, SeenObject>();
  let objectsRead = 0;
  const ended = (end: PackWalkEnd, note?: string): PackWalk => ({ commits, end, note, objectsRead });
  const ranOut = (what: string): PackWalk =>
    complete ? ended('cut', `the pack is cut off in ${what}`) : ended('needs-more');

  if (bytes.length - start < PACK_HEADER_BYTES) {
    const available = bytes.subarray(start);
    if (!PACK_SIGNATURE.every((byte, i) => i >= available.length || available[i] === byte)) return ended('corrupt', 'what follows the commands is not a pack');
    return ranOut('its header');
  }
  if (!PACK_SIGNATURE.every((byte, i) => bytes[start + i] === byte)) return ended('corrupt', 'what follows the commands is not a pack');
  const version = readUint32(bytes, start + 4);
  if (!SUPPORTED_PACK_VERSIONS.has(version)) return ended('corrupt', `the pack has version ${version}, not 2 or 3`);
  const count = readUint32(bytes, start + 8);
  let pos = start + PACK_HEADER_BYTES;
  let inflatedBudget = bounds.maxInflatedBytes;
  const oidBytes = OID_BYTES[format];

  while (objectsRead < count) {
    if (objectsRead >= bounds.maxObjects) return ended('bounds', `the pack has more than ${bounds.maxObjects} objects`);
    const objectStart = pos;
    const header = readObjectHeader(bytes, pos);
    if (header === 'short') return ranOut(`object ${objectsRead + 1}'s header`);
    if (header === 'overflow') return ended('corrupt', `object ${objectsRead + 1} has a size that overflows`);
    const { type, size } = header;
    pos = header.next;

    let resolvedType = type;
    let base: Uint8Array | undefined;
    if (type === OBJ_OFS_DELTA) {
      const offset = readOffsetVarint(bytes, pos);
      if (offset === 'short') return ranOut(`object ${objectsRead + 1}'s delta base offset`);
      if (offset === 'overflow') return ended('corrupt', `object ${objectsRead + 1} has a delta base offset that overflows`);
      pos = offset.next;
      const baseObject = offset.value > 0 ? seen.get(objectStart - offset.value) : undefined;
      if (baseObject === undefined) return ended('corrupt', `object ${objectsRead + 1}'s delta base offset does not point at an earlier object`);
      resolvedType = baseObject.type;
      base = baseObject.data;
    } else if (type === OBJ_REF_DELTA) {
      if (bytes.length - pos < oidBytes) return ranOut(`object ${objectsRead + 1}'s delta base id`);
      const baseOid = toHex(bytes.subarray(pos, pos + oidBytes));
      pos += oidBytes;
      // only commits are hashed, so only a commit base is known; any other base leaves the type unknown
      base = commitData.get(baseOid);
      resolvedType = base === undefined ? OBJ_UNKNOWN : OBJ_COMMIT;
    } else if (type !== OBJ_COMMIT && type !== OBJ_TREE && type !== OBJ_BLOB && type !== OBJ_TAG) {
      return ended('corrupt', `object ${objectsRead + 1} has the invalid type ${type}`);
    }
    if (resolvedType === OBJ_TREE || resolvedType === OBJ_BLOB) return ended('commits-done');

    if (inflatedBudget <= 0) return ended('bounds', `the pack inflates to more than ${bounds.maxInflatedBytes} bytes before its last commit`);
    let inflated: Uint8Array;
    try {
      const result = inflateSync(bytes.subarray(pos), { info: true, maxOutputLength: inflatedBudget }) as unknown as InflateInfo;
      inflated = result.buffer;
      pos += result.engine.bytesWritten;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') return ended('bounds', `the pack inflates to more than ${bounds.maxInflatedBytes} bytes before its last commit`);
      if (code === 'Z_BUF_ERROR') return ranOut(`object ${objectsRead + 1}'s compressed data`);
      return ended('corrupt', `object ${objectsRead + 1}'s compressed data is not a zlib stream`);
    }
    if (inflated.length !== size) return ended('corrupt', `object ${objectsRead + 1} inflates to ${inflated.length} bytes, not the ${size} its header says`);
    inflatedBudget -= inflated.length;

    let data: Uint8Array | undefined = type === OBJ_COMMIT ? inflated : undefined;
    if (base !== undefined && resolvedType === OBJ_COMMIT) {
      const applied = applyDelta(base, inflated, inflatedBudget);
      if (typeof applied === 'string') {
        if (applied === BUDGET_EXCEEDED) return ended('bounds', `the pack inflates to more than ${bounds.maxInflatedBytes} bytes before its last commit`);
        return ended('corrupt', `object ${objectsRead + 1} is a delta git cannot apply: ${applied}`);
      }
      inflatedBudget -= applied.length;
      data = applied;
    }
    if (data !== undefined) {
      const oid = objectId(format, 'commit', data);
      commits.set(oid, commitParents(data, oidBytes * 2));
      commitData.set(oid, data);
    }
    seen.set(objectStart, { type: resolvedType, data });
    objectsRead++;
  }
  return ended('complete');
}

interface InflateInfo {
  buffer: Buffer;
  engine: { bytesWritten: number };
}

/** git's object id: the hash of "<type> <size>\0" and the content. */
export function objectId(format: ObjectFormat, type: string, data: Uint8Array): string {
  const hash = createHash(format === 'sha1' ? 'sha1' : 'sha256');
  hash.update(`${type} ${data.length}\0`);
  hash.update(data);
  return hash.digest('hex');
}

/**
 * The parents as git's parse_commit_buffer reads them: a `tree` line first, then consecutive `parent`
 * lines. A `parent` line anywhere else is not a parent to git, so it is not one here either; a commit
 * git cannot parse has none (its history cannot be shown through it).
 */
export function commitParents(data: Uint8Array, hexLength: number): string[] {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const treeLine = 'tree '.length + hexLength;
  if (!text.startsWith('tree ') || text[treeLine] !== '\n' || !isHex(text.slice('tree '.length, treeLine))) return [];
  const parents: string[] = [];
  let at = treeLine + 1;
  const parentLine = 'parent '.length + hexLength;
  while (text.startsWith('parent ', at)) {
    const hex = text.slice(at + 'parent '.length, at + parentLine);
    // git fails the whole commit on a malformed parent line ("bad parents"): no parents at all
    if (text[at + parentLine] !== '\n' || !isHex(hex) || hex.length !== hexLength) return [];
    parents.push(hex.toLowerCase());
    at += parentLine + 1;
  }
  return parents;
}

const BUDGET_EXCEEDED = 'the result exceeds the inflated-byte bound';

/** Applies a git delta to its base; the result size is checked against the budget before allocating. */
export function applyDelta(base: Uint8Array, delta: Uint8Array, budget: number): Uint8Array | string {
  const baseSize = readSizeVarint(delta, 0);
  if (typeof baseSize === 'string') return 'its base size is malformed';
  if (baseSize.value !== base.length) return `it is for a base of ${baseSize.value} bytes, not ${base.length}`;
  const resultSize = readSizeVarint(delta, baseSize.next);
  if (typeof resultSize === 'string') return 'its result size is malformed';
  if (resultSize.value > budget) return BUDGET_EXCEEDED;
  const result = new Uint8Array(resultSize.value);
  let out = 0;
  let at = resultSize.next;
  while (at < delta.length) {
    const op = delta[at++]!;
    if (op & 0x80) {
      let offset = 0;
      let length = 0;
      for (let bit = 0; bit < 4; bit++) {
        if (op & (1 << bit)) {
          if (at >= delta.length) return 'a copy instruction is cut off';
          offset += delta[at++]! * 2 ** (8 * bit);
        }
      }
      for (let bit = 0; bit < 3; bit++) {
        if (op & (1 << (4 + bit))) {
          if (at >= delta.length) return 'a copy instruction is cut off';
          length += delta[at++]! * 2 ** (8 * bit);
        }
      }
      if (length === 0) length = DELTA_COPY_ZERO_SIZE;
      if (offset + length > base.length || out + length > result.length) return 'a copy instruction reaches outside its base or result';
      result.set(base.subarray(offset, offset + length), out);
      out += length;
    } else if (op !== 0) {
      if (at + op > delta.length || out + op > result.length) return 'an insert instruction reaches outside the delta or its result';
      result.set(delta.subarray(at, at + op), out);
      at += op;
      out += op;
    } else {
      return 'it has the reserved opcode 0';
    }
  }
  if (out !== result.length) return `it produces ${out} bytes, not the ${result.length} it declares`;
  return result;
}

/** An object header: type in bits 4-6 of the first byte, the size in 4 + 7n bits, little-endian. */
function readObjectHeader(bytes: Uint8Array, at: number): { type: number; size: number; next: number } | 'short' | 'overflow' {
  if (at >= bytes.length) return 'short';
  let byte = bytes[at++]!;
  const type = (byte >> 4) & 0x07;
  let size = byte & 0x0f;
  let shift = 4;
  while (byte & 0x80) {
    if (at >= bytes.length) return 'short';
    if (shift >= MAX_VARINT_SHIFT) return 'overflow';
    byte = bytes[at++]!;
    size += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  }
  return { type, size, next: at };
}

/** A delta's base or result size: 7 bits a byte, little-endian. */
function readSizeVarint(bytes: Uint8Array, at: number): Step {
  let value = 0;
  let shift = 0;
  let byte: number;
  do {
    if (at >= bytes.length) return 'short';
    if (shift >= MAX_VARINT_SHIFT) return 'overflow';
    byte = bytes[at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return { value, next: at };
}

/** OFS_DELTA's negative offset: big-endian 7 bits a byte, each continuation adding one (gitformat-pack(5)). */
function readOffsetVarint(bytes: Uint8Array, at: number): Step {
  if (at >= bytes.length) return 'short';
  let byte = bytes[at++]!;
  let value = byte & 0x7f;
  let shift = 7;
  while (byte & 0x80) {
    if (at >= bytes.length) return 'short';
    if (shift >= MAX_VARINT_SHIFT) return 'overflow';
    byte = bytes[at++]!;
    value = (value + 1) * 128 + (byte & 0x7f);
    shift += 7;
  }
  return { value, next: at };
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function isHex(text: string): boolean {
  return /^[0-9a-fA-F]*$/.test(text);
}
