import YAML from 'yaml';
import { Policy, parseWith } from '@airlock/shared';

/**
 * The policy in force when the user wrote none and no central policy is known, and what
 * `airlock policy init` writes. The YAML text is the single source: DEFAULT_POLICY is parsed from
 * it, so what `init` writes is exactly what runs without a file.
 */
const DEFAULT_POLICY_YAML = `# Airlock policy, version 1.
#
# Rules match on target, protocol, kind and the attributes the classifier found in an action:
#   targets:   glob(s) on the target name            e.g. "prod-*"
#   protocols: postgres | ssh | kubernetes | http | egress
#   kinds:     glob(s) on the kind                   e.g. "sql.*", "ssh.exec", "k8s.request"
#   attributes: per attribute, glob(s), a number or true/false (equality), or {gt, gte, lt, lte}.
#     A list attribute (such as tables) matches when any element matches.
# Globs: * (any characters, "/" included), ?, [ab], {a,b}; a leading ! negates.
#
# Of the rules that match an action the first deny wins, else the first review, else the first
# allow; when none matches, \`default\` decides. \`class\` is protocol-neutral: read, write, ddl,
# privileged or unknown; Kubernetes adds exec (a stream into a container). An action whose class
# is unknown is never allowed unless an allow rule names "unknown" in its attributes.class
# condition; a default of allow holds it for review.
# A review waits for a human for the rule's \`timeout\` (or the configured default), then is denied.
version: 1
default: review
rules:
  - id: privileged-deny
    description: privileged operations (roles, grants, superuser-only statements and commands) are refused
    decision: deny
    match:
      attributes:
        class: privileged
  - id: git-force-push-deny
    description: a git push that rewrites a branch (one Airlock cannot show to be a fast-forward) is refused
    decision: deny
    match:
      kinds: http.request
      attributes:
        forcePush: true
  - id: websocket-deny
    description: WebSocket upgrades are refused (frames are not inspected); replace with an allow rule naming the paths you trust
    decision: deny
    match:
      kinds: http.websocket
  - id: egress-listed-allow
    description: hosts listed on the egress target (allowHosts) are reached without asking
    decision: allow
    match:
      protocols: egress
      attributes:
        destination: listed
  - id: egress-unlisted-review
    description: other public hosts wait for a human; approving for the session lets the agent keep reaching that host and port
    decision: review
    match:
      protocols: egress
      attributes:
        destination: public
  - id: k8s-exec-review
    description: a command run in a Kubernetes container (exec, attach, port-forward, proxy) waits for a human; the session is recorded
    decision: review
    match:
      protocols: kubernetes
      attributes:
        class: exec
  - id: ddl-review
    description: schema changes wait for a human
    decision: review
    match:
      attributes:
        class: ddl
  - id: writes-review
    description: writes wait for a human
    decision: review
    match:
      attributes:
        class: write
  - id: unknown-review
    description: what the classifier could not understand waits for a human
    decision: review
    match:
      attributes:
        class: unknown
  - id: reads-allow
    description: reads go through
    decision: allow
    match:
      attributes:
        class: read
  # More examples:
  # - id: prod-writes-deny
  #   decision: deny
  #   match:
  #     targets: "prod-*"
  #     attributes:
  #       class: [write, ddl]
  # - id: audit-tables-review
  #   decision: review
  #   timeout: 10m
  #   match:
  #     kinds: "sql.*"
  #     attributes:
  #       tables: "audit.*"
masking:
  # Every built-in detector runs when \`detectors\` is omitted.
  columns:
    # column-name globs, case-insensitive
    - columns: ["*password*", "*passwd*", "*secret*", "*token*", "*api_key*", "*apikey*"]
      label: REDACTED
    - columns: ["*ssn*"]
      label: REDACTED
  custom: []
`;

/** The text of the embedded default policy, comments included. */
export function defaultPolicyYaml(): string {
  return DEFAULT_POLICY_YAML;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Frozen: it is shared by every caller that falls back to it. */
export const DEFAULT_POLICY: Policy = deepFreeze(parseWith(Policy, YAML.parse(DEFAULT_POLICY_YAML), 'embedded default policy'));
