import { PassThrough, Readable } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';

export interface ClientNodeExecResult {
  stdout: string;
  stderr: string;
  status: V1Status;
}

/**
 * Runs one command in a pod's container with @kubernetes/client-node's Exec (WebSocket), feeding
 * `stdinText` when given, and collects stdout, stderr and the final Status.
 */
export function clientNodeExec(kc: KubeConfig, pod: { namespace: string; name: string; container: string }, command: string[], stdinText?: string): Promise<ClientNodeExecResult> {
  return new Promise((resolve, reject) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const stdin = stdinText === undefined ? null : Readable.from([Buffer.from(stdinText)]);
    new Exec(kc)
      .exec(pod.namespace, pod.name, pod.container, command, stdout, stderr, stdin, false, (status) => setImmediate(() => resolve({ stdout: out, stderr: err, status })))
      .catch(reject);
  });
}
