import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { K8sExecResultDetail, K8sPortForwardResultDetail, MaskingPolicy } from '@airlock/shared';
import {
  EXEC_CHANNEL,
  decodeFrame,
  decodeResize,
  encodeClose,
  encodeFrame,
  encodeResize,
  isFrameError,
  negotiateExecProtocols,
  offeredProtocols,
  parseExecStatus,
  splitPortPrefix,
  type FrameRules,
} from '../../src/proxies/kubernetes/streams/codec.js';
import { ExecSession, type ExecSessionOptions } from '../../src/proxies/kubernetes/streams/exec-session.js';
import { PortForwardSession, parsePorts } from '../../src/proxies/kubernetes/streams/portforward-session.js';
import { compileMasking } from '../../src/masking/index.js';

/**
 * The remotecommand channel protocol (pure): framing, v5 close messages, the error channel's
 * Status, resize, subprotocol negotiation, malformed and oversized messages; the exec session's
 * masking per channel, clip and exit status; the port-forward session's per-port counts.
 */

const v5: FrameRules = { protocol: 'v5.channel.k8s.io', maxBytes: 1024, maxChannel: EXEC_CHANNEL.resize };
const v4: FrameRules = { ...v5, protocol: 'v4.channel.k8s.io' };
const bytes = (...b: number[]) => Buffer.from(b);
const statusOf = (body: unknown) => Buffer.from(JSON.stringify(body));

describe('subprotocol negotiation', () => {
  test('offers upstream exactly the agent offers among v5 and v4, in its order, without repeats', () => {
    assert.deepEqual(negotiateExecProtocols(['v5.channel.k8s.io', 'v4.channel.k8s.io']), { protocols: ['v5.channel.k8s.io', 'v4.channel.k8s.io'] });
    assert.deepEqual(negotiateExecProtocols(['v4.channel.k8s.io']), { protocols: ['v4.channel.k8s.io'] });
    // client-node offers the older ones too: they are dropped, never forwarded
    assert.deepEqual(negotiateExecProtocols(['v4.channel.k8s.io', 'v3.channel.k8s.io', 'channel.k8s.io', 'v4.channel.k8s.io']), { protocols: ['v4.channel.k8s.io'] });
  });
  test('refuses base64, v1–v3, the bare channel protocol, SPDY tunnels and nothing, with a sentence that names the offer', () => {
    for (const offer of [['v4.base64.channel.k8s.io'], ['base64.channel.k8s.io'], ['v3.channel.k8s.io', 'v2.channel.k8s.io'], ['channel.k8s.io'], ['SPDY/3.1+portforward.k8s.io'], [], ['V5.CHANNEL.K8S.IO']]) {
      const out = negotiateExecProtocols(offer);
      assert.ok('error' in out, `refused: ${offer.join(',')}`);
      assert.match(out.error, /v5\.channel\.k8s\.io or v4\.channel\.k8s\.io only/);
      assert.ok(out.error.includes(offer.length ? offer[0]! : 'none'));
    }
  });
  test('reads the header list as sent (spaces, repeats, several headers)', () => {
    assert.deepEqual(offeredProtocols(' v5.channel.k8s.io ,, v4.channel.k8s.io'), ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    assert.deepEqual(offeredProtocols(['a', 'b, c']), ['a', 'b', 'c']);
    assert.deepEqual(offeredProtocols(undefined), []);
  });
});

describe('framing', () => {
  test('a data message is its channel byte and payload; encoding round-trips', () => {
    const frame = decodeFrame(encodeFrame(1, Buffer.from('hi\n')), true, v5);
    assert.ok(!isFrameError(frame) && frame.kind === 'data');
    assert.equal(frame.channel, 1);
    assert.equal(frame.payload.toString(), 'hi\n');
    const empty = decodeFrame(bytes(0), true, v5);
    assert.ok(!isFrameError(empty) && empty.kind === 'data' && empty.payload.length === 0, 'a channel byte alone is an empty write');
  });
  test('v5 close messages: [255, ch]; none in v4; exactly one channel byte', () => {
    assert.deepEqual(decodeFrame(encodeClose(0), true, v5), { kind: 'close', channel: 0 });
    assert.match((decodeFrame(encodeClose(0), true, v4) as { error: string }).error, /close message .* v4\.channel\.k8s\.io/);
    assert.match((decodeFrame(bytes(255), true, v5) as { error: string }).error, /0 payload bytes/);
    assert.match((decodeFrame(bytes(255, 0, 1), true, v5) as { error: string }).error, /2 payload bytes/);
    assert.match((decodeFrame(bytes(255, 9), true, v5) as { error: string }).error, /channel 9/);
  });
  test('malformed: text messages, empty messages, unknown channels', () => {
    assert.match((decodeFrame(Buffer.from('\x01hi'), false, v5) as { error: string }).error, /text message/);
    assert.match((decodeFrame(Buffer.alloc(0), true, v5) as { error: string }).error, /empty message/);
    for (const ch of [5, 6, 100, 254]) assert.match((decodeFrame(bytes(ch, 1), true, v5) as { error: string }).error, new RegExp(`channel ${ch}`));
  });
  test('oversized messages are refused by the limit, one byte over and far over', () => {
    assert.ok(!isFrameError(decodeFrame(Buffer.alloc(1024, 1), true, v5)), 'exactly the limit passes');
    assert.match((decodeFrame(Buffer.alloc(1025, 1), true, v5) as { error: string }).error, /1025 bytes, over the limit of 1024/);
    assert.ok(isFrameError(decodeFrame(Buffer.alloc(10 * 1024 * 1024, 1), true, v5)));
  });
});

describe('the error channel Status', () => {
  test('Success is exit 0', () => {
    assert.deepEqual(parseExecStatus(statusOf({ metadata: {}, status: 'Success' })), { exitCode: 0 });
  });
  test('NonZeroExitCode gives the ExitCode cause', () => {
    const out = parseExecStatus(statusOf({ status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code: exit code 3', details: { causes: [{ reason: 'Other', message: '9' }, { reason: 'ExitCode', message: '3' }] } }));
    assert.deepEqual(out, { exitCode: 3, message: 'command terminated with non-zero exit code: exit code 3', reason: 'NonZeroExitCode' });
  });
  test('a failure of another reason, or an exit code that is not a number, has no exit code', () => {
    assert.deepEqual(parseExecStatus(statusOf({ status: 'Failure', reason: 'InternalError', message: 'container not found' })), { message: 'container not found', reason: 'InternalError' });
    const odd = parseExecStatus(statusOf({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '-1' }] } }));
    assert.ok(!isFrameError(odd) && odd.exitCode === undefined);
    const huge = parseExecStatus(statusOf({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '99999999999' }] } }));
    assert.ok(!isFrameError(huge) && huge.exitCode === undefined);
    // an ExitCode cause without NonZeroExitCode is not an exit
    const sly = parseExecStatus(statusOf({ status: 'Failure', reason: 'InternalError', details: { causes: [{ reason: 'ExitCode', message: '0' }] } }));
    assert.ok(!isFrameError(sly) && sly.exitCode === undefined);
  });
  test('not JSON, not an object, neither Success nor Failure: errors', () => {
    for (const payload of ['not json', '[1,2]', 'null', '{"status":"Pending"}', '{}']) assert.ok(isFrameError(parseExecStatus(Buffer.from(payload))), payload);
  });
});

describe('resize', () => {
  test('{Width, Height} integers up to 16 bits; re-encoded as exactly that', () => {
    assert.deepEqual(decodeResize(Buffer.from('{"Width":120,"Height":40}')), { width: 120, height: 40 });
    assert.deepEqual(encodeResize({ width: 120, height: 40 }), encodeFrame(4, Buffer.from('{"Width":120,"Height":40}')));
  });
  test('refused: not JSON, missing or non-integer fields, out of range', () => {
    for (const bad of ['x', '[]', '{"Width":80}', '{"Width":"80","Height":24}', '{"Width":1.5,"Height":24}', '{"Width":70000,"Height":24}', '{"Width":-1,"Height":24}']) {
      assert.ok(isFrameError(decodeResize(Buffer.from(bad))), bad);
    }
  });
});

describe('port prefixes and ports', () => {
  test('the first 2 bytes of a channel are its port, little-endian', () => {
    assert.deepEqual(splitPortPrefix(Buffer.from([0x90, 0x1f, 7])), { port: 8080, rest: Buffer.from([7]) });
    assert.ok(isFrameError(splitPortPrefix(Buffer.from([0x90]))));
  });
  test('ports: numbers 1–65535, comma lists split', () => {
    assert.deepEqual(parsePorts(['8080,9090', '22']), [8080, 9090, 22]);
    for (const bad of [['0'], ['65536'], ['http'], [''], []]) assert.ok(isFrameError(parsePorts(bad)), JSON.stringify(bad));
  });
});

function session(overrides: Partial<ExecSessionOptions> = {}): ExecSession {
  return new ExecSession({
    protocol: 'v5.channel.k8s.io',
    masker: compileMasking(MaskingPolicy.parse({}), 'k8s'),
    secrets: ['daemon-cluster-token-123'],
    agentMaxBytes: 1024,
    upstreamMaxBytes: 4096,
    clipBytes: 4096,
    startMs: 1_000_000,
    title: 'exec web-0 -- echo hi',
    ...overrides,
  });
}

const concat = (frames: Buffer[] | { error: string }): Buffer[] => {
  if (isFrameError(frames)) throw new Error(frames.error);
  return frames;
};
const payloadOn = (frames: Buffer[], channel: number): string =>
  frames
    .filter((f) => f[0] === channel)
    .map((f) => f.subarray(1).toString())
    .join('');

describe('exec session', () => {
  test('output passes re-framed, the exit status is read, the clip has output and the exit marker', () => {
    const s = session();
    const out = [...concat(s.fromUpstream(encodeFrame(1, Buffer.from('hi\n')), true, 1_000_010)), ...s.flush(1_000_020, false)];
    const status = concat(s.fromUpstream(encodeFrame(3, statusOf({ metadata: {}, status: 'Success' })), true, 1_000_030));
    assert.equal(payloadOn(out, 1), 'hi\n');
    assert.deepEqual(JSON.parse(payloadOn(status, 3)), { metadata: {}, status: 'Success' });
    const result = K8sExecResultDetail.parse(s.result(1_000_040, 'upstream'));
    assert.equal(result.exitCode, 0);
    assert.equal(result.bytesOut, 3);
    const lines = result.asciicast!.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.equal((lines[0] as { version: number }).version, 2);
    assert.deepEqual(lines.slice(1).map((l) => (l as unknown[]).slice(1)), [['o', 'hi\n'], ['m', 'exit 0']]);
  });
  test('with no content detector output goes on as the very message that came (no copy), counted and recorded as when re-framed', () => {
    const unmasked = session({ masker: compileMasking(MaskingPolicy.parse({ detectors: [] }), 'staging') });
    const masked = session();
    const messages = [encodeFrame(1, Buffer.from('hello ')), encodeFrame(2, Buffer.from('warning\n')), encodeFrame(1, Buffer.from('world\n')), bytes(1)];
    const sent = messages.map((m) => concat(unmasked.fromUpstream(m, true, 1_000_010)));
    messages.slice(0, 3).forEach((m, i) => assert.equal(sent[i]![0], m, `message ${i} is passed itself`));
    // a message with a channel byte only carries nothing: nothing is sent for it
    assert.deepEqual(sent[3], []);
    const maskedOut = [...messages.flatMap((m) => concat(masked.fromUpstream(m, true, 1_000_010))), ...masked.flush(1_000_010, true)];
    for (const channel of [1, 2]) assert.equal(payloadOn(sent.flat(), channel), payloadOn(maskedOut, channel));
    const a = K8sExecResultDetail.parse(unmasked.result(1_000_040, 'upstream'));
    const b = K8sExecResultDetail.parse(masked.result(1_000_040, 'upstream'));
    assert.deepEqual([a.bytesOut, a.bytesErr], [12, 8]);
    assert.deepEqual([a.bytesOut, a.bytesErr, a.asciicast], [b.bytesOut, b.bytesErr, b.asciicast]);
  });
  test('a secret in stdout split across two messages is masked; the agent never sees it, nor does the clip', () => {
    const s = session();
    const key = 'AKIAIOSFODNN7EXAMPLE';
    const a = concat(s.fromUpstream(encodeFrame(1, Buffer.from(`AWS_ACCESS_KEY_ID=${key.slice(0, 9)}`)), true, 1));
    const b = concat(s.fromUpstream(encodeFrame(1, Buffer.from(`${key.slice(9)}\n`)), true, 2));
    const c = s.flush(3, true);
    const shown = payloadOn([...a, ...b, ...c], 1);
    assert.ok(!shown.includes(key.slice(0, 12)), shown);
    assert.match(shown, /^AWS_ACCESS_KEY_ID=\S+\n$/);
    const result = s.result(4, 'upstream');
    assert.ok(!result.asciicast!.includes(key.slice(0, 12)));
    assert.ok(s.report.changed);
  });
  test('stderr is masked on its own channel; a non-zero exit keeps its code and a masked message', () => {
    const s = session();
    const err = [...concat(s.fromUpstream(encodeFrame(2, Buffer.from('password=hunter2 at postgres://u:Sup3rS3cret@db:5432/x\n')), true, 1)), ...s.flush(2, true)];
    assert.ok(!payloadOn(err, 2).includes('Sup3rS3cret'));
    const status = concat(
      s.fromUpstream(encodeFrame(3, statusOf({ status: 'Failure', reason: 'NonZeroExitCode', message: 'exit code 3 token daemon-cluster-token-123', details: { causes: [{ reason: 'ExitCode', message: '3' }], smuggled: 'x' } })), true, 3),
    );
    const sent = JSON.parse(payloadOn(status, 3)) as Record<string, unknown>;
    assert.deepEqual(sent.details, { causes: [{ reason: 'ExitCode', message: '3' }] }, 'only the exit cause passes');
    assert.ok(!String(sent.message).includes('daemon-cluster-token-123'));
    const result = s.result(4, 'upstream');
    assert.equal(result.exitCode, 3);
    assert.ok(!result.error!.includes('daemon-cluster-token-123'));
  });
  test('stdin passes unchanged and is recorded as "i"; resize re-encoded and recorded as "r"; close passes', () => {
    const s = session();
    const message = encodeFrame(0, Buffer.from('hello\n'));
    assert.deepEqual(concat(s.fromAgent(message, true, 1)), [message]);
    assert.deepEqual(concat(s.fromAgent(encodeFrame(4, Buffer.from('{"Height":40,"Width":120,"Extra":"x"}')), true, 2)), [encodeResize({ width: 120, height: 40 })]);
    assert.deepEqual(concat(s.fromAgent(encodeClose(0), true, 3)), [encodeClose(0)]);
    const events = s.result(4, 'agent').asciicast!.trim().split('\n').slice(1).map((l) => (JSON.parse(l) as unknown[]).slice(1));
    assert.deepEqual(events, [['i', 'hello\n'], ['r', '120x40'], ['m', 'stdin closed'], ['m', 'stream closed by agent']]);
    assert.equal(s.result(5, 'agent').bytesIn, 6);
  });
  test('adversarial: the agent writing server channels, closing stdout, a bad resize, an oversized message', () => {
    for (const bad of [encodeFrame(1, Buffer.from('fake output')), encodeFrame(3, statusOf({ status: 'Success' })), encodeClose(1), encodeFrame(4, Buffer.from('{"Width":1e9}')), Buffer.alloc(1025, 0)]) {
      assert.ok(isFrameError(session().fromAgent(bad, true, 1)), `refused: ${bad.subarray(0, 12).toString('hex')}`);
    }
  });
  test('adversarial: the server writing stdin or resize, an error channel that is not a Status', () => {
    assert.ok(isFrameError(session().fromUpstream(encodeFrame(0, Buffer.from('x')), true, 1)));
    assert.ok(isFrameError(session().fromUpstream(encodeFrame(4, Buffer.from('{}')), true, 1)));
    const s = session();
    const out = concat(s.fromUpstream(encodeFrame(3, Buffer.from('AKIAIOSFODNN7EXAMPLE')), true, 1));
    assert.ok(!payloadOn(out, 3).includes('AKIA'), 'a non-Status error payload is replaced, not passed');
    assert.equal(s.result(2, 'upstream').exitCode, undefined);
  });
  test('a server close of stdout releases what stdout held first', () => {
    const s = session();
    const held = concat(s.fromUpstream(encodeFrame(1, Buffer.from('key AKIAIOSFOD')), true, 1));
    const closing = concat(s.fromUpstream(encodeClose(1), true, 2));
    const all = [...held, ...closing];
    assert.deepEqual(all.at(-1), encodeClose(1));
    assert.equal(payloadOn(all.slice(0, -1), 1).length > 0, true);
  });
  test('the clip is bounded by clipBytes, says it was cut with the whole clip\'s hash, and still ends with the exit marker', () => {
    const s = session({ clipBytes: 300 });
    for (let i = 0; i < 50; i++) concat(s.fromUpstream(encodeFrame(1, Buffer.from(`line ${i} of output\n`)), true, i));
    concat(s.fromUpstream(encodeFrame(3, statusOf({ status: 'Success' })), true, 60));
    const result = K8sExecResultDetail.parse(s.result(61, 'upstream'));
    assert.ok(result.asciicast!.length < 600, `bounded: ${result.asciicast!.length}`);
    assert.ok(result.asciicastCut, 'says it was cut');
    assert.ok(result.asciicastCut.bytes > result.asciicastCut.keptBytes);
    assert.match(result.asciicastCut.sha256, /^[0-9a-f]{64}$/);
    assert.match(result.asciicast!, /"m", "exit 0"\]\n$/);
    assert.equal(result.bytesOut, 50 * 'line 0 of output\n'.length + 40 * 1 + 0, 'every byte counted, kept or not');
  });
});

describe('exec clip cut', () => {
  test('a cut clip describes all the output the agent received: its bytes, the bytes the clip kept, and its SHA-256', () => {
    const s = session({ clipBytes: 300 });
    const frames: Buffer[] = [];
    for (let i = 0; i < 50; i++) frames.push(...concat(s.fromUpstream(encodeFrame(i % 5 === 0 ? 2 : 1, Buffer.from(`line ${i}: \u00e9t\u00e9 \u0000\n`)), true, i)));
    frames.push(...s.flush(60, true));
    concat(s.fromUpstream(encodeFrame(3, statusOf({ status: 'Success' })), true, 61));
    // stdout and stderr payloads in the order they went to the agent
    const received = frames.filter((frame) => frame[0] === 1 || frame[0] === 2).map((frame) => frame.subarray(1));
    const result = K8sExecResultDetail.parse(s.result(62, 'upstream'));
    const all = Buffer.concat(received);
    assert.ok(result.asciicastCut, 'says it was cut');
    assert.equal(result.asciicastCut.bytes, all.length);
    assert.equal(result.asciicastCut.sha256, createHash('sha256').update(all).digest('hex'));
    const keptOutput = result.asciicast!.trim().split('\n').slice(1).map((line) => JSON.parse(line) as [number, string, string]).filter((event) => event[1] === 'o');
    assert.ok(keptOutput.length > 0 && keptOutput.length < 50, `kept ${keptOutput.length} output events`);
    assert.equal(result.asciicastCut.keptBytes, keptOutput.reduce((sum, event) => sum + Buffer.byteLength(event[2]), 0));
  });
});

describe('port-forward session', () => {
  const pf = () => new PortForwardSession('v4.channel.k8s.io', [8080, 9090], { agentMaxBytes: 1024, upstreamMaxBytes: 1024 }, (text) => text.replace(/secret-\w+/g, '[masked]'));
  const withPort = (channel: number, port: number, data: string) => encodeFrame(channel, Buffer.concat([Buffer.from([port & 0xff, port >> 8]), Buffer.from(data)]));
  test('counts data bytes per port each way (the server\'s port prefix and error channels not counted); messages pass unchanged', () => {
    const s = pf();
    // the client sends raw data, no prefix (kubelet websocket.go, client-node)
    const up = encodeFrame(0, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    assert.equal(s.fromAgent(up, true), up);
    assert.ok(!isFrameError(s.fromAgent(encodeFrame(0, Buffer.from('more')), true)));
    assert.ok(!isFrameError(s.fromUpstream(withPort(0, 8080, 'HTTP/1.1 200 OK\r\n'), true)));
    assert.ok(!isFrameError(s.fromUpstream(withPort(1, 8080, ''), true)));
    assert.ok(!isFrameError(s.fromUpstream(withPort(2, 9090, 'abc'), true)));
    const result = K8sPortForwardResultDetail.parse(s.result('agent'));
    assert.deepEqual(result.ports, [
      { port: '8080', bytesUp: 18 + 4, bytesDown: 17 },
      { port: '9090', bytesUp: 0, bytesDown: 3 },
    ]);
  });
  test('adversarial: the server answering for another port, a channel beyond the ports, no server prefix, the agent writing on an error channel', () => {
    assert.match((pf().fromUpstream(withPort(0, 22, 'x'), true) as { error: string }).error, /port 22 on the channel of port 8080/);
    assert.ok(isFrameError(pf().fromAgent(encodeFrame(4, Buffer.from('x')), true)));
    assert.ok(isFrameError(pf().fromUpstream(encodeFrame(0, Buffer.from([1])), true)));
    assert.match((pf().fromAgent(encodeFrame(1, Buffer.from('x')), true) as { error: string }).error, /error channel of port 8080/);
  });
  test('the server\'s error text is masked; its port prefix and channel byte kept', () => {
    const s = pf();
    const out = s.fromUpstream(withPort(1, 8080, 'cannot forward: secret-tok3n'), true);
    assert.ok(Buffer.isBuffer(out));
    assert.deepEqual(out, withPort(1, 8080, 'cannot forward: [masked]'));
    assert.deepEqual(s.fromUpstream(encodeFrame(1, Buffer.from('again secret-x')), true), encodeFrame(1, Buffer.from('again [masked]')));
  });
});
