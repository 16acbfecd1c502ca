import { MaskReportBuilder } from '../../../masking/index.js';
import type { K8sUpgradeContext } from './types.js';

/**
 * Text the API server wrote that reaches the agent as text (a refusal's Status message, a
 * port-forward's error channel): through the target's content detectors, and every literal form of
 * the daemon's credential replaced, as any other response text is.
 */
export function maskUpstreamText(ctx: Pick<K8sUpgradeContext, 'context' | 'target' | 'secrets'>, text: string): string {
  let masked = ctx.context.masking(ctx.target.name).maskText(text, new MaskReportBuilder());
  for (const secret of ctx.secrets ?? []) if (secret) masked = masked.split(secret).join('[credential]');
  return masked;
}
