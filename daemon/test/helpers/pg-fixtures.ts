/** A schema with synthetic PII and a policy exercising every decision, shared by the PostgreSQL proxy tests. */
export const DEMO_SCHEMA = `
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, phone text, card text, iban text, notes text, password_hash text);
INSERT INTO customers VALUES
 (1, 'Ada Lovelace', 'ada@example.com', '+44 20 7946 0958', '4111 1111 1111 1111', 'GB82 WEST 1234 5698 7654 32', 'prefers email', 'bcrypt$2b$12$abcdefghijk'),
 (2, 'Alan Turing', 'alan.turing@example.org', '+1 (415) 555-0132', '5500005555555559', 'DE89 3704 0044 0532 0130 00', 'call after 5pm', 'bcrypt$2b$12$lmnopqrstuv'),
 (3, 'Grace Hopper', 'grace@navy.example', '+49 30 901820', '4012888888881881', 'FR14 2004 1010 0505 0001 3M02 606', 'no PII here', 'bcrypt$2b$12$wxyz0123456');
CREATE TABLE audit_log (id serial PRIMARY KEY, entry text);
CREATE TABLE imports (id int, email text);
`;

export const TEST_POLICY = `
version: 1
default: review
rules:
  - { id: no-privileged, decision: deny, match: { attributes: { class: privileged } } }
  - { id: no-ddl, decision: deny, match: { attributes: { class: ddl } } }
  - { id: no-unbounded-writes, decision: deny, match: { attributes: { noWhere: true } } }
  - { id: audit-writes, decision: review, timeout: 1500ms, match: { attributes: { class: write, writesTables: "*audit_log" } } }
  - { id: writes, decision: review, timeout: 30s, match: { attributes: { class: write } } }
  - { id: reads, decision: allow, match: { attributes: { class: read } } }
masking:
  columns:
    - { columns: "*password*", label: REDACTED }
`;

