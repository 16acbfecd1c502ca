import { singularOf } from '@airlock/shared';
import type { K8sRequestInfo } from './types.js';

/**
 * The one line a person reads in an approval prompt, in kubectl's words: `delete deployment/api -n
 * prod`, `get secrets -n kube-system`, `exec pod/web-1 -n default: sh -c "rm -rf /data"`.
 */

/** `deployment/api`, `pods`, `deployment/api/scale`: the object or collection a request names. */
export function objectPhrase(info: K8sRequestInfo, name: string): string {
  if (name === '') return info.subresource === '' ? info.resource : `${info.resource}/${info.subresource}`;
  const object = `${singularOf(info.resource)}/${name}`;
  return info.subresource === '' ? object : `${object}/${info.subresource}`;
}

export function namespacePhrase(info: K8sRequestInfo, verb: string): string {
  if (info.namespace !== '' && !(info.resource === 'namespaces' && info.apiGroup === '')) return ` -n ${info.namespace}`;
  // a list or watch over every namespace of a namespaced resource: kubectl's -A
  if (info.namespace === '' && (verb === 'list' || verb === 'watch') && !CLUSTER_SCOPED.has(info.resource)) return ' -A';
  return '';
}

/** Core cluster-scoped resources kubectl users know, so that `get nodes` does not read `get nodes -A`. */
const CLUSTER_SCOPED = new Set([
  'namespaces',
  'nodes',
  'persistentvolumes',
  'clusterroles',
  'clusterrolebindings',
  'customresourcedefinitions',
  'storageclasses',
  'priorityclasses',
  'ingressclasses',
  'runtimeclasses',
  'certificatesigningrequests',
  'mutatingwebhookconfigurations',
  'validatingwebhookconfigurations',
  'validatingadmissionpolicies',
  'validatingadmissionpolicybindings',
  'apiservices',
  'csidrivers',
  'csinodes',
  'volumeattachments',
  'componentstatuses',
  'selfsubjectaccessreviews',
  'selfsubjectrulesreviews',
  'subjectaccessreviews',
  'tokenreviews',
  'selfsubjectreviews',
]);

/** A summary cut to `max` characters with an ellipsis. */
export function cutSummary(text: string, max: number): string {
  const oneLine = text.replace(/[\r\n]+/g, ' ');
  if (oneLine.length <= max) return oneLine;
  return `${oneLine.slice(0, Math.max(0, max - 1))}…`;
}
