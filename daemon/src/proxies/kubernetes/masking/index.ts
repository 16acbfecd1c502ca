export { createK8sResponseMasker, planK8sResponse, isSecretsRequest } from './response-masker.js';
export type { K8sResponseRequest } from './response-masker.js';
export { REDACTED, REDACTED_BASE64, SECRET_LABEL, TOKEN_LABEL, LAST_APPLIED_LABEL, ENV_LABEL, LAST_APPLIED_ANNOTATION } from './rules.js';
