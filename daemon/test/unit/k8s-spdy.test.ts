import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { describe, test } from 'node:test';
import { K8sPortForwardResultDetail } from '@airlock/shared';
import { SPDY3_HEADER_DICTIONARY } from '../../src/proxies/kubernetes/streams/spdy/dictionary.js';
import { FLAG_FIN, RST_STATUS, SpdyFrameReader, SpdyFrameWriter, type SpdyFrame, type SpdyRawFrame } from '../../src/proxies/kubernetes/streams/spdy/frames.js';
import { HeaderBlockDecoder, HeaderBlockEncoder, adler32, parseHeaderBlock, serializeHeaderBlock, type SpdyHeaders } from '../../src/proxies/kubernetes/streams/spdy/header-block.js';
import { SpdyPortForwardSession, streamHeadersOf, type SpdyPortForwardEffect } from '../../src/proxies/kubernetes/streams/spdy/portforward-session.js';

/**
 * The SPDY/3.1 codec and kubectl's port-forward session (pure): frames both ways, the header block
 * with the SPDY/3 dictionary against bytes kubectl 1.32 really sent, bounds, and the session's
 * sequences (policy per port, refused ports, error stream, half-close, upstream failures).
 */

const LIMITS = { maxFrameBytes: 64 * 1024, maxBlockBytes: 4096, maxPairs: 64 };

/**
 * What kubectl 1.32 sent on a plain SPDY port-forward (captured through the daemon): SYN_STREAM 1
 * (the error stream), FIN on stream 1, SYN_STREAM 3 (the data stream, its block compressed against
 * the first one's), then "hello\n" on stream 3. Go's framer: zlib level 9 with the SPDY/3
 * dictionary (id e3c6a7c2 in the zlib header), a sync flush per block.
 */
const KUBECTL_BYTES = Buffer.from(
  '800300010000003e0000000100000000000078f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45e01c60616061c0c0c0c0590489c64c50f2663400000000ffff' +
    '0000000101000000' +
    '800300010000001800000003000000000000c2aa19540e2512d60b000000ffff' +
    '000000030000000668656c6c6f0a',
  'hex',
);

async function readAll(reader: SpdyFrameReader, chunks: Buffer[]): Promise<SpdyFrame[]> {
  const out: SpdyFrame[] = [];
  for (const chunk of chunks) {
    const raw = reader.push(chunk);
    if ('error' in raw) throw new Error(raw.error);
    for (const r of raw) {
      const frame = await reader.decodeHeaders(r);
      if ('error' in frame) throw new Error(frame.error);
      out.push(frame);
    }
  }
  return out;
}

const headers = (entries: Record<string, string>): SpdyHeaders => new Map(Object.entries(entries).map(([k, v]) => [k, [v]]));

/** A Go-style block encoder (what kubectl's framer does): ONE deflate stream with the dictionary, a sync flush per block. */
function goStyleEncoder(): (h: SpdyHeaders) => Promise<Buffer> {
  const deflate = zlib.createDeflate({ dictionary: SPDY3_HEADER_DICTIONARY, level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  return (h) =>
    new Promise((resolve) => {
      deflate.write(serializeHeaderBlock(h));
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(out.splice(0))));
    });
}

describe('SPDY/3 header blocks', () => {
  test('the dictionary is the 1423 bytes of the spec, whose Adler-32 is the id kubectl puts in its zlib header', () => {
    assert.equal(SPDY3_HEADER_DICTIONARY.length, 1423);
    assert.equal(adler32(SPDY3_HEADER_DICTIONARY), 0xe3c6a7c2);
    assert.equal(KUBECTL_BYTES.readUInt32BE(20), 0xe3c6a7c2, 'the dictionary id in the captured zlib header');
    assert.equal(SPDY3_HEADER_DICTIONARY.subarray(0, 11).toString('latin1'), '\0\0\0\x07options');
  });

  test('decodes what kubectl 1.32 sent: two SYN_STREAMs sharing one zlib stream, a FIN and data, in any chunking', async () => {
    for (const size of [KUBECTL_BYTES.length, 1, 7, 13]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < KUBECTL_BYTES.length; at += size) chunks.push(KUBECTL_BYTES.subarray(at, at + size));
      const frames = await readAll(new SpdyFrameReader(LIMITS), chunks);
      assert.equal(frames.length, 4, `chunks of ${size}`);
      const [errorStream, fin, dataStream, data] = frames as [Extract<SpdyFrame, { type: 'syn_stream' }>, Extract<SpdyFrame, { type: 'data' }>, Extract<SpdyFrame, { type: 'syn_stream' }>, Extract<SpdyFrame, { type: 'data' }>];
      assert.equal(errorStream.type, 'syn_stream');
      assert.equal(errorStream.streamId, 1);
      assert.deepEqual(Object.fromEntries(errorStream.headers), { port: ['8080'], requestid: ['0'], streamtype: ['error'] });
      assert.deepEqual({ type: fin.type, streamId: fin.streamId, fin: fin.fin, length: fin.data.length }, { type: 'data', streamId: 1, fin: true, length: 0 });
      assert.equal(dataStream.streamId, 3);
      assert.deepEqual(Object.fromEntries(dataStream.headers), { port: ['8080'], requestid: ['0'], streamtype: ['data'] });
      assert.equal(data.data.toString(), 'hello\n');
    }
  });

  test('blocks from a Go-style encoder (one deflate context, sync flush per block) round-trip in order', async () => {
    const encode = goStyleEncoder();
    const decoder = new HeaderBlockDecoder(LIMITS);
    for (let i = 0; i < 20; i++) {
      const h = headers({ streamtype: i % 2 ? 'data' : 'error', port: String(8000 + i), requestid: String(i) });
      assert.deepEqual(await decoder.decode(await encode(h)), h);
    }
    decoder.close();
  });

  test("Airlock's own blocks (stored deflate blocks after the FDICT header) inflate with zlib and the dictionary", async () => {
    const encoder = new HeaderBlockEncoder();
    const decoder = new HeaderBlockDecoder(LIMITS);
    const first = encoder.encode(new Map());
    assert.deepEqual([...first.subarray(0, 6)], [0x78, 0x20, 0xe3, 0xc6, 0xa7, 0xc2]);
    assert.deepEqual([...first.subarray(-5)], [0, 0, 0, 0xff, 0xff], 'each block ends as a sync flush does');
    assert.deepEqual(await decoder.decode(first), new Map());
    const big = headers({ 'x-long': 'v'.repeat(3000), port: '22' });
    assert.deepEqual(await decoder.decode(encoder.encode(big)), big);
    decoder.close();
  });

  test('bounds: a header bomb, too many pairs, a repeated or upper-case name, a truncated block, garbage; an error is final', async () => {
    const encode = goStyleEncoder();
    const bomb = new HeaderBlockDecoder(LIMITS);
    const out = await bomb.decode(await encode(headers({ big: 'x'.repeat(100_000) })));
    assert.match((out as { error: string }).error, /decompresses to more than 4096 bytes/);
    assert.match(((await bomb.decode(await encode(headers({ port: '1' })))) as { error: string }).error, /more than 4096 bytes/, 'the shared context is gone');

    const many = new Map(Array.from({ length: 65 }, (_, i) => [`h${i}`, ['v']] as [string, string[]]));
    assert.match((parseHeaderBlock(serializeHeaderBlock(many), 64) as { error: string }).error, /65 pairs; at most 64/);
    const twice = Buffer.concat([serializeHeaderBlock(headers({ a: '1' })).subarray(4), serializeHeaderBlock(headers({ a: '2' })).subarray(4)]);
    assert.match((parseHeaderBlock(Buffer.concat([Buffer.from([0, 0, 0, 2]), twice]), 64) as { error: string }).error, /"a" appears twice/);
    const upper = serializeHeaderBlock(headers({ port: '1' }));
    upper[8] = 'P'.charCodeAt(0);
    assert.match((parseHeaderBlock(upper, 64) as { error: string }).error, /not lower-case/);
    assert.match((parseHeaderBlock(serializeHeaderBlock(headers({ port: '8080' })).subarray(0, 12), 64) as { error: string }).error, /runs past the end|ends inside/);
    assert.match(((await new HeaderBlockDecoder(LIMITS).decode(Buffer.from('not zlib at all'))) as { error: string }).error, /does not decompress/);
  });
});

describe('SPDY/3 frames', () => {
  test('every frame type Airlock reads or writes round-trips through writer and reader', async () => {
    const frames: SpdyFrame[] = [
      { type: 'syn_stream', streamId: 5, associatedTo: 0, priority: 0, fin: false, unidirectional: false, headers: headers({ streamtype: 'data', port: '80', requestid: '2' }) },
      { type: 'syn_reply', streamId: 5, fin: false, headers: new Map() },
      { type: 'data', streamId: 5, fin: false, data: Buffer.from('payload') },
      { type: 'data', streamId: 5, fin: true, data: Buffer.alloc(0) },
      { type: 'rst_stream', streamId: 7, status: RST_STATUS.refusedStream },
      { type: 'settings', entries: [{ flags: 0, id: 7, value: 65536 }] },
      { type: 'ping', id: 3 },
      { type: 'goaway', lastGoodStreamId: 5, status: 0 },
      { type: 'headers', streamId: 5, fin: true, headers: headers({ a: 'b' }) },
      { type: 'window_update', streamId: 5, delta: 1024 },
    ];
    const writer = new SpdyFrameWriter();
    const bytes = Buffer.concat(frames.map((f) => writer.encode(f)));
    assert.deepEqual(await readAll(new SpdyFrameReader(LIMITS), [bytes]), frames);
  });

  test('an oversized frame is refused from its 8-byte header, before its payload is buffered; the reader stays failed', () => {
    const reader = new SpdyFrameReader({ ...LIMITS, maxFrameBytes: 1000 });
    const head = Buffer.from([0, 0, 0, 1, 0, 0, 0x03, 0xe9]);
    assert.match((reader.push(head) as { error: string }).error, /1001 bytes is larger than the 1000 accepted/);
    assert.ok('error' in (reader.push(Buffer.from(new SpdyFrameWriter().encode({ type: 'ping', id: 1 })))));
  });

  test('malformed control frames: wrong version, short PING/RST/GOAWAY, SETTINGS count mismatch, data on stream 0; unknown types skipped', () => {
    const control = (version: number, type: number, body: Buffer) => {
      const h = Buffer.alloc(8);
      h.writeUInt16BE(0x8000 | version, 0);
      h.writeUInt16BE(type, 2);
      h.writeUIntBE(body.length, 5, 3);
      return Buffer.concat([h, body]);
    };
    const bad: [Buffer, RegExp][] = [
      [control(2, 6, Buffer.alloc(4)), /SPDY version 2/],
      [control(3, 6, Buffer.alloc(3)), /PING frame of 3 bytes/],
      [control(3, 3, Buffer.alloc(4)), /RST_STREAM frame of 4 bytes/],
      [control(3, 7, Buffer.alloc(12)), /GOAWAY frame of 12 bytes/],
      [control(3, 4, Buffer.from([0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0])), /SETTINGS frame says 2 entries/],
      [control(3, 1, Buffer.alloc(4)), /SYN_STREAM frame of 4 bytes is too short/],
      [Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), /data frame on stream 0/],
    ];
    for (const [bytes, message] of bad) assert.match((new SpdyFrameReader(LIMITS).push(bytes) as { error: string }).error, message);
    const raw = new SpdyFrameReader(LIMITS).push(Buffer.concat([control(3, 0x77, Buffer.alloc(3)), control(3, 6, Buffer.from([0, 0, 0, 9]))])) as SpdyRawFrame[];
    assert.deepEqual(raw, [{ type: 'ping', id: 9 }]);
  });
});

describe('kubectl port-forward session (SPDY)', () => {
  const LIMITS_PF = { maxStreams: 6, maxPorts: 10, maxErrorBytes: 200 };
  /** stands in for the target's content detectors: what it replaces must not reach the agent */
  const maskForTest = (text: string): string => text.replace(/secret-\w+/g, '[masked]');
  const syn = (streamId: number, type: string, port: number | string, requestId = '0'): SpdyFrame => ({ type: 'syn_stream', streamId, associatedTo: 0, priority: 0, fin: false, unidirectional: false, headers: headers({ streamtype: type, port: String(port), requestid: requestId }) });
  const data = (streamId: number, text: string, fin = false): SpdyFrame => ({ type: 'data', streamId, fin, data: Buffer.from(text) });
  const toAgent = (effects: SpdyPortForwardEffect[]) => effects.filter((e): e is Extract<SpdyPortForwardEffect, { kind: 'to-agent' }> => e.kind === 'to-agent').map((e) => e.frame);
  const kinds = (effects: SpdyPortForwardEffect[]) => effects.map((e) => (e.kind === 'to-agent' ? `${e.frame.type}:${'streamId' in e.frame ? e.frame.streamId : ''}${e.frame.type === 'data' && e.frame.fin ? ':fin' : ''}` : e.kind));
  const v4 = (channel: number, payload: Buffer | string) => Buffer.concat([Buffer.from([channel]), typeof payload === 'string' ? Buffer.from(payload) : payload]);
  const prefix = (port: number) => Buffer.from([port & 0xff, port >> 8]);

  /** kubectl's opening: error stream (half-closed at once), then the data stream. */
  const open = (s: SpdyPortForwardSession, port: number, requestId = '0', first = 1): SpdyPortForwardEffect[] => [
    ...s.fromAgent(syn(first, 'error', port, requestId)),
    ...s.fromAgent(data(first, '', true)),
    ...s.fromAgent(syn(first + 2, 'data', port, requestId)),
  ];

  test('a new port is put to policy once; allowed: one upstream per request, bytes relayed and counted, the port prefix dropped', () => {
    const s = new SpdyPortForwardSession(LIMITS_PF, new Map(), true, maskForTest);
    assert.deepEqual(kinds(open(s, 8080)), ['syn_reply:1', 'syn_reply:3', 'decide']);
    // agent bytes before the decision wait (bounded by the shell through heldBytes)
    assert.deepEqual(s.fromAgent(data(3, 'GET /')), []);
    assert.equal(s.heldBytes(), 5);
    assert.deepEqual(kinds(s.decided(8080, true)), ['open-upstream']);
    const opened = s.upstreamOpened('0');
    assert.deepEqual(opened, [{ kind: 'to-upstream', requestId: '0', message: v4(0, 'GET /') }]);
    assert.equal(s.heldBytes(), 0);
    assert.deepEqual(s.upstreamMessage('0', v4(0, prefix(8080)), true), []);
    assert.deepEqual(s.upstreamMessage('0', v4(1, prefix(8080)), true), []);
    assert.deepEqual(toAgent(s.upstreamMessage('0', v4(0, 'HTTP/1.1 200'), true)), [{ type: 'data', streamId: 3, fin: false, data: Buffer.from('HTTP/1.1 200') }]);
    // a second connection to the same port: no new decision
    assert.deepEqual(kinds(open(s, 8080, '1', 5)), ['syn_reply:5', 'syn_reply:7', 'open-upstream']);
    // the agent ends the data stream: the upstream is closed (v4 has no half-close); its close ends both streams
    assert.deepEqual(kinds(s.fromAgent(data(3, 'x', true))), ['to-upstream', 'close-upstream']);
    assert.deepEqual(kinds(s.upstreamClosed('0')), ['data:3:fin', 'data:1:fin']);
    assert.deepEqual(K8sPortForwardResultDetail.parse(s.result([8080], 'agent')).ports, [{ port: '8080', bytesUp: 6, bytesDown: 12 }]);
  });

  test('a refused port: the reason on the error stream, both streams ended, nothing opened upstream; later requests refused without asking again', () => {
    const s = new SpdyPortForwardSession(LIMITS_PF, new Map(), true, maskForTest);
    open(s, 22);
    s.fromAgent(data(3, 'SSH-2.0'));
    const effects = s.decided(22, false, 'Airlock refused this request (rule no-ssh)');
    assert.deepEqual(kinds(effects), ['data:1', 'data:3:fin', 'data:1:fin']);
    assert.equal(toAgent(effects)[0]!.type === 'data' && (toAgent(effects)[0] as { data: Buffer }).data.toString(), 'Airlock refused this request (rule no-ssh)');
    assert.ok(!effects.some((e) => e.kind === 'open-upstream' || e.kind === 'to-upstream'));
    assert.equal(s.heldBytes(), 0);
    const again = open(s, 22, '1', 5);
    assert.ok(!again.some((e) => e.kind === 'decide' || e.kind === 'open-upstream'));
    assert.match(kinds(again).join(' '), /data:5 data:7:fin data:5:fin/);
  });

  test('ports decided at the upgrade (?ports=): others are refused without asking (fail closed)', () => {
    const s = new SpdyPortForwardSession(LIMITS_PF, new Map([[8080, { state: 'allowed' as const }]]), false, maskForTest);
    assert.deepEqual(kinds(open(s, 8080)), ['syn_reply:1', 'syn_reply:3', 'open-upstream']);
    const other = open(s, 5432, '1', 5);
    assert.ok(!other.some((e) => e.kind === 'decide' || e.kind === 'open-upstream'));
    const text = toAgent(other).find((f) => f.type === 'data' && f.streamId === 5 && f.data.length > 0) as { data: Buffer };
    assert.match(text.data.toString(), /did not open port 5432/);
  });

  test('the upstream refusing (pod gone) or sending its own error text: said on the error stream, bounded', () => {
    const s = new SpdyPortForwardSession(LIMITS_PF, new Map(), true, maskForTest);
    open(s, 8080);
    s.decided(8080, true);
    const failed = s.upstreamFailed('0', 'the Kubernetes API server refused the port-forward with HTTP 404: pods "web" not found');
    assert.deepEqual(kinds(failed), ['data:1', 'data:3:fin', 'data:1:fin']);
    open(s, 8080, '1', 5);
    s.upstreamOpened('1');
    s.upstreamMessage('1', v4(1, prefix(8080)), true);
    const long = s.upstreamMessage('1', v4(1, 'e'.repeat(500)), true);
    assert.equal((toAgent(long)[0] as { data: Buffer }).data.length, 200, 'error text capped at maxErrorBytes');
    open(s, 8080, '2', 9);
    s.upstreamOpened('2');
    s.upstreamMessage('2', v4(1, prefix(8080)), true);
    const quoted = s.upstreamMessage('2', v4(1, 'error forwarding: read "secret-tok3n" from the socket'), true);
    assert.equal((toAgent(quoted)[0] as { data: Buffer }).data.toString(), 'error forwarding: read "[masked]" from the socket', 'the server\'s error text is masked');
  });

  test('adversarial upstream: a text message, another port in the prefix, an unknown channel: the request ends with a reason', () => {
    for (const [message, isBinary, reason] of [
      [Buffer.from('hi'), false, /text message/],
      [v4(0, prefix(22)), true, /answered for port 22/],
      [v4(3, 'x'), true, /channel 3/],
    ] as const) {
      const s = new SpdyPortForwardSession(LIMITS_PF, new Map(), true, maskForTest);
      open(s, 8080);
      s.decided(8080, true);
      s.upstreamOpened('0');
      const effects = s.upstreamMessage('0', message, isBinary);
      assert.match((toAgent(effects)[0] as { data: Buffer }).data.toString(), reason);
      assert.ok(effects.some((e) => e.kind === 'close-upstream'));
    }
  });

  test('adversarial agent: bad stream ids end the connection; bad headers, too many streams and a reused request are reset', () => {
    const s = new SpdyPortForwardSession(LIMITS_PF, new Map(), true, maskForTest);
    assert.deepEqual(kinds(s.fromAgent(syn(3, 'error', 80))), ['syn_reply:3']);
    assert.deepEqual(kinds(s.fromAgent(syn(1, 'data', 80))), ['goaway:', 'end'], 'a stream id going back');
    assert.deepEqual(s.fromAgent(syn(5, 'data', 80)), [], 'nothing after the end');

    const t = new SpdyPortForwardSession(LIMITS_PF, new Map(), true, maskForTest);
    const reset = (f: SpdyFrame) => toAgent(t.fromAgent(f))[0] as { type: string; status?: number };
    assert.equal(reset(syn(1, 'stdin', 80)).status, RST_STATUS.protocolError);
    assert.equal(reset(syn(3, 'data', 'http')).status, RST_STATUS.protocolError);
    assert.equal(reset(syn(5, 'data', 70000)).status, RST_STATUS.protocolError);
    t.fromAgent(syn(7, 'error', 80, 'r'));
    assert.equal(reset(syn(9, 'data', 81, 'r')).status, RST_STATUS.protocolError, 'data stream naming another port than its error stream');
    assert.equal(reset(syn(11, 'error', 80, 'r')).status, RST_STATUS.protocolError, 'a second error stream for one request');
    for (let id = 13; id < 13 + 2 * 5; id += 2) t.fromAgent(syn(id, 'error', 80, `x${id}`));
    assert.equal(t.openStreams(), 6);
    assert.equal(reset(syn(101, 'error', 80, 'over')).status, RST_STATUS.refusedStream);
  });

  test('PING is answered; GOAWAY refuses new streams; RST from the agent closes the upstream; SETTINGS/WINDOW_UPDATE ignored', () => {
    const s = new SpdyPortForwardSession(LIMITS_PF, new Map(), true, maskForTest);
    assert.deepEqual(toAgent(s.fromAgent({ type: 'ping', id: 1 })), [{ type: 'ping', id: 1 }]);
    assert.deepEqual(s.fromAgent({ type: 'settings', entries: [] }), []);
    assert.deepEqual(s.fromAgent({ type: 'window_update', streamId: 1, delta: 10 }), []);
    open(s, 8080);
    s.decided(8080, true);
    s.upstreamOpened('0');
    assert.deepEqual(kinds(s.fromAgent({ type: 'rst_stream', streamId: 3, status: RST_STATUS.cancel })), ['close-upstream']);
    assert.equal(s.openStreams(), 0);
    s.fromAgent({ type: 'goaway', lastGoodStreamId: 3, status: 0 });
    assert.equal((toAgent(s.fromAgent(syn(5, 'error', 8080, '1')))[0] as { status: number }).status, RST_STATUS.refusedStream);
  });

  test('shutdown (idle timeout) ends every request with the message and waits for kubectl to close; with none open, GOAWAY', () => {
    const s = new SpdyPortForwardSession(LIMITS_PF, new Map(), true, maskForTest);
    open(s, 8080);
    s.decided(8080, true);
    s.upstreamOpened('0');
    const effects = s.shutdown('no bytes moved for 1000 ms');
    assert.deepEqual(kinds(effects), ['data:1', 'close-upstream', 'data:3:fin', 'data:1:fin', 'end']);
    assert.equal((toAgent(effects)[0] as { data: Buffer }).data.toString(), 'no bytes moved for 1000 ms');
    assert.deepEqual(effects.at(-1), { kind: 'end', error: 'no bytes moved for 1000 ms', closedBy: 'limit', linger: true }, 'kubectl closes once it printed the reason');
    assert.deepEqual(s.fromAgent(syn(9, 'error', 8080, '9')), [], 'nothing is served after the end');
    const quiet = new SpdyPortForwardSession(LIMITS_PF, new Map(), true, maskForTest);
    assert.deepEqual(kinds(quiet.shutdown('idle')), ['goaway:', 'end'], 'no stream to say why on: GOAWAY and close at once');
  });

  test('distinct ports asked for are bounded (each is an action): past the cap a new port is refused without asking', () => {
    const s = new SpdyPortForwardSession({ maxStreams: 10, maxPorts: 2, maxErrorBytes: 200 }, new Map(), true, maskForTest);
    assert.ok(open(s, 1000, 'a', 1).some((e) => e.kind === 'decide'));
    s.decided(1000, true);
    assert.ok(open(s, 2000, 'b', 5).some((e) => e.kind === 'decide'));
    s.decided(2000, false, 'no');
    const third = s.fromAgent(syn(9, 'error', 3000, 'c'));
    assert.equal((toAgent(third)[0] as { type: string }).type, 'syn_reply');
    const refused = s.fromAgent(syn(11, 'data', 3000, 'c'));
    assert.ok(!refused.some((e) => e.kind === 'decide'));
    assert.match((toAgent(refused).find((f) => f.type === 'data' && f.data.length > 0) as { data: Buffer }).data.toString(), /already asked for 2 ports/);
  });

  test('stream headers: kubectl before requestid pairs a data stream with the error stream before it', () => {
    assert.deepEqual(streamHeadersOf(3, new Map([['streamtype', ['data']], ['port', ['80']]])), { requestId: '1', type: 'data', port: 80 });
    assert.deepEqual(streamHeadersOf(1, new Map([['streamtype', ['error']], ['port', ['80']]])), { requestId: '1', type: 'error', port: 80 });
    assert.ok('error' in streamHeadersOf(1, new Map([['streamtype', ['data']], ['port', ['0']]])));
    assert.equal(FLAG_FIN, 1);
  });
});
