import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initSqlClassifier } from '../../src/classify/sql/index.js';
import { sqlReferences } from '../../src/classify/sql/references.js';
import { compileMasking } from '../../src/masking/index.js';
import { columnLabels, touchedRule, type RelationFacts } from '../../src/proxies/postgres/column-plan.js';
import type { ResultColumn } from '../../src/proxies/postgres/results.js';

const masker = compileMasking({ columns: [{ columns: ['*password*', '*token*'], label: 'REDACTED' }], custom: [] }, 'db');
const users: RelationFacts = { columns: [{ name: 'id', bases: ['id'] }, { name: 'email', bases: ['email'] }, { name: 'password', bases: ['password'] }] };
const plainView: RelationFacts = { columns: [{ name: 'who', bases: ['email'] }, { name: 'pw', bases: ['password'] }] };
const orders: RelationFacts = { columns: [{ name: 'id', bases: ['id'] }, { name: 'total', bases: ['total'] }] };

function col(name: string, tableOid = 0): ResultColumn {
  return { name, tableOid, attnum: tableOid ? 1 : 0, typeOid: 25, format: 0 };
}

describe('column rules follow the data', () => {
  before(() => initSqlClassifier());

  test('the statement names a masked column anywhere: computed values are masked, sourced ones judged by their source', () => {
    for (const sql of ['SELECT upper(password) FROM users', 'SELECT (SELECT password FROM users LIMIT 1) AS x', 'SELECT u.password || \'\' FROM users u', 'SELECT substr(password, 1, 3) FROM users WHERE id = 1', 'SELECT x FROM (SELECT password AS x FROM users) s']) {
      assert.equal(touchedRule(sqlReferences(sql), masker, [users]), 'REDACTED', sql);
    }
    const labels = columnLabels([col('x'), col('email', 100)], masker, { sources: [null, { column: 'email', origins: [{ column: 'email' }], complete: true }], composites: [null, null], touches: 'REDACTED' });
    assert.deepEqual(labels, ['REDACTED', undefined]);
  });

  test('aliases and views are judged by the base column', () => {
    const labels = columnLabels([col('p', 100), col('pw', 200)], masker, {
      sources: [{ column: 'password', origins: [{ column: 'password' }], complete: true }, { column: 'pw', origins: [{ column: 'password' }], complete: true }],
      composites: [null, null],
      touches: undefined,
    });
    assert.deepEqual(labels, ['REDACTED', 'REDACTED']);
    // a view column named harmlessly whose base is masked, used inside an expression
    assert.equal(touchedRule(sqlReferences('SELECT upper(pw) FROM v'), masker, [plainView]), 'REDACTED');
    assert.equal(touchedRule(sqlReferences('SELECT upper(who) FROM v'), masker, [plainView]), undefined);
  });

  test('whole rows and stars carry every column of their relation', () => {
    for (const sql of ['SELECT t FROM users t', 'SELECT row_to_json(u) FROM users u', 'SELECT to_jsonb(users) FROM users', 'SELECT upper(x::text) FROM (SELECT * FROM users) s(a, b, x)', 'SELECT (u.*)::text FROM users u']) {
      assert.equal(touchedRule(sqlReferences(sql), masker, [users]), 'REDACTED', sql);
    }
    const composite = columnLabels([col('t')], masker, { sources: [null], composites: [{ fields: [{ name: 'id' }, { name: 'password' }] }], touches: undefined });
    assert.deepEqual(composite, ['REDACTED']);
  });

  test('statements that reach nothing masked keep computed columns as they are', () => {
    for (const sql of ['SELECT count(*) FROM users', 'SELECT upper(email) FROM users', 'SELECT sum(total) FROM orders JOIN users USING (id)', 'SELECT * FROM orders']) {
      const relations = sql.includes('orders') && !sql.includes('users') ? [orders] : [users, orders];
      assert.equal(touchedRule(sqlReferences(sql), masker, relations), undefined, sql);
    }
    assert.deepEqual(columnLabels([col('count')], masker, { sources: [null], composites: [null], touches: undefined }), [undefined]);
  });

  test('text the parser rejects reaches whatever its relations hold; the output name still counts', () => {
    const refs = sqlReferences('SELEC password FROM users');
    assert.equal(refs.unreadable, true);
    assert.equal(touchedRule(refs, masker, [users]), 'REDACTED');
    assert.deepEqual(columnLabels([col('api_token')], masker, { sources: [null], composites: [null], touches: undefined }), ['REDACTED']);
  });

  test('a chain of views followed only part of the way is masked when the statement reaches a masked column', () => {
    const labels = columnLabels([col('v', 300)], masker, { sources: [{ column: 'v', origins: [], complete: false }], composites: [null], touches: 'REDACTED' });
    assert.deepEqual(labels, ['REDACTED']);
  });
});
