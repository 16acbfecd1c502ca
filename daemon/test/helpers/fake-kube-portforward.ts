import net from 'node:net';
import type { WebSocket } from 'ws';

/**
 * `pods/portforward` of the in-test fake Kubernetes API server (no real API server or kubelet can
 * run on these machines) over WebSocket `v4.channel.k8s.io`, framed as the kubelet's port-forward
 * stream: channel 2k carries the data of the k-th port of `?ports=`, channel 2k+1 its errors; the
 * server starts each channel with the port (2 bytes, little-endian), the client sends raw data on
 * the data channels. No container runs: each port of a pod is connected to a TCP address the test
 * gives (an echo server it started, say); a port with none gets the kubelet's error text on its
 * error channel, as when nothing listens in the pod.
 */

/** One port-forward stream as the fake saw it. */
export interface PortForwardRecord {
  namespace: string;
  pod: string;
  ports: number[];
  /** bytes the client sent on each port's data channel */
  bytesFromClient: number;
  /** bytes sent to the client on the data channels */
  bytesToClient: number;
  closed: boolean;
}

export type PortTargets = Map<string, { host: string; port: number }>;

export const portTargetKey = (namespace: string, pod: string, port: number): string => `${namespace}/${pod}/${port}`;

export function runPortForward(ws: WebSocket, record: PortForwardRecord, targets: PortTargets, podUid: string): void {
  const sockets: net.Socket[] = [];
  const frame = (channel: number, data: Buffer | string): Buffer => Buffer.concat([Buffer.from([channel]), typeof data === 'string' ? Buffer.from(data) : data]);
  const closeAll = (): void => {
    record.closed = true;
    for (const s of sockets) s.destroy();
    if (ws.readyState === ws.OPEN) ws.close(1000);
  };
  record.ports.forEach((port, index) => {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port);
    ws.send(frame(index * 2, prefix));
    ws.send(frame(index * 2 + 1, prefix));
    const target = targets.get(portTargetKey(record.namespace, record.pod, port));
    const fail = (why: string): void => {
      ws.send(frame(index * 2 + 1, `error forwarding port ${port} to pod ${record.pod}, uid ${podUid}: ${why}`));
      closeAll();
    };
    if (!target) return fail(`failed to connect to localhost:${port} inside namespace "${record.namespace}": connection refused`);
    const socket = net.connect(target.port, target.host);
    sockets[index] = socket;
    socket.on('error', (err) => fail(err.message));
    socket.on('data', (data: Buffer) => {
      record.bytesToClient += data.length;
      if (ws.readyState !== ws.OPEN) return;
      ws.send(frame(index * 2, data), () => {
        if (socket.isPaused() && ws.bufferedAmount < 1024 * 1024) socket.resume();
      });
      if (ws.bufferedAmount >= 1024 * 1024) socket.pause();
    });
    socket.on('end', closeAll);
  });
  ws.on('message', (data: Buffer) => {
    const channel = data[0];
    if (channel === undefined || channel % 2 === 1 || channel >= record.ports.length * 2) return;
    const payload = data.subarray(1);
    record.bytesFromClient += payload.length;
    sockets[channel / 2]?.write(payload);
  });
  ws.on('close', closeAll);
  ws.on('error', closeAll);
}
