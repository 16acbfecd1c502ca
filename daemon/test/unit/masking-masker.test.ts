import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MaskReport, MaskingPolicy } from '@airlock/shared';
import type { MaskingPolicy as MaskingPolicyType } from '@airlock/shared';
import { MaskReportBuilder, compileMasking } from '../../src/masking/index.js';
import { DEFAULT_POLICY } from '../../src/policy/defaults.js';

function compile(input: unknown, target = 'prod-db') {
  return compileMasking(MaskingPolicy.parse(input), target);
}

describe('compileMasking', () => {
  test('active unless nothing could ever be masked', () => {
    assert.equal(compile({}).active, true);
    assert.equal(compile({ detectors: [] }).active, false);
    assert.equal(compile({ detectors: [], columns: [{ columns: '*secret*' }] }).active, true);
    assert.equal(compile({ detectors: [], custom: [{ name: 'emp', regex: 'EMP-\\d+' }] }).active, true);
  });

  test('column rules for other targets do not make a masker active', () => {
    const policy = { detectors: [], columns: [{ columns: '*secret*', targets: 'prod-*' }] };
    assert.equal(compile(policy, 'prod-db').active, true);
    assert.equal(compile(policy, 'staging-db').active, false);
  });

  test('an inactive masker returns cells and text as they are', () => {
    const masker = compile({ detectors: [] });
    const report = new MaskReportBuilder();
    assert.equal(masker.maskCell('alice@example.com', undefined, report), 'alice@example.com');
    assert.equal(masker.maskText('4111 1111 1111 1111', report), '4111 1111 1111 1111');
    assert.equal(report.changed, false);
  });
});

describe('column rules', () => {
  const masker = compile({
    detectors: [],
    columns: [
      { columns: ['*password*', 'api_key'], label: 'SECRET' },
      { columns: '*ssn*', targets: 'prod-*' },
      { columns: '*ssn*', targets: 'staging-*', label: 'STAGING-SSN' },
      { columns: '*', targets: 'audit-db', label: 'AUDIT' },
    ],
  });

  test('the first matching rule gives the label, case-insensitively', () => {
    assert.equal(masker.columnRule('user_password'), 'SECRET');
    assert.equal(masker.columnRule('User_PASSWORD_Hash'), 'SECRET');
    assert.equal(masker.columnRule('API_KEY'), 'SECRET');
    assert.equal(masker.columnRule('customer_ssn'), 'REDACTED');
    assert.equal(masker.columnRule('email'), undefined);
  });

  test('rules apply only to their targets', () => {
    const staging = compile(
      {
        detectors: [],
        columns: [
          { columns: '*ssn*', targets: 'prod-*' },
          { columns: '*ssn*', targets: 'staging-*', label: 'STAGING-SSN' },
        ],
      },
      'staging-eu',
    );
    assert.equal(staging.columnRule('ssn'), 'STAGING-SSN');
    assert.equal(masker.columnRule('anything'), undefined);
    assert.equal(compile({ detectors: [], columns: [{ columns: '*', targets: 'audit-db', label: 'AUDIT' }] }, 'audit-db').columnRule('anything'), 'AUDIT');
  });

  test('a labelled cell is replaced whole and counted under its label', () => {
    const report = new MaskReportBuilder();
    assert.equal(masker.maskCell('hunter2', 'SECRET', report), '[SECRET]');
    assert.equal(masker.maskCell('123-45-6789', 'REDACTED', report), '[REDACTED]');
    assert.deepEqual(report.toReport(), { cells: 2, byDetector: { SECRET: 1, REDACTED: 1 }, nulled: 0 });
  });

  test('an empty labelled cell stays empty and is not counted', () => {
    const report = new MaskReportBuilder();
    assert.equal(masker.maskCell('', 'SECRET', report), '');
    assert.equal(report.changed, false);
  });

  test('the embedded default policy redacts secret-looking columns', () => {
    const defaults = compileMasking(DEFAULT_POLICY.masking, 'any-target');
    assert.equal(defaults.columnRule('api_key'), 'REDACTED');
    assert.equal(defaults.columnRule('ResetToken'), 'REDACTED');
    assert.equal(defaults.columnRule('customer_ssn'), 'REDACTED');
    assert.equal(defaults.columnRule('email'), undefined);
  });
});

describe('maskCell content detection', () => {
  const masker = compile({});

  test('unchanged cells come back as they are and leave the report untouched', () => {
    const report = new MaskReportBuilder();
    for (const cell of ['Alice Johnson', '42.50', '2024-03-15 10:30:00', '550e8400-e29b-41d4-a716-446655440000', '']) {
      assert.equal(masker.maskCell(cell, undefined, report), cell);
    }
    assert.equal(report.changed, false);
    assert.deepEqual(report.toReport(), { cells: 0, byDetector: {}, nulled: 0 });
  });

  test('a cell with several hits counts once in cells and once per detector that hit it', () => {
    const report = new MaskReportBuilder();
    const out = masker.maskCell('mail alice@example.com or bob@example.com, call +1 (415) 555-2671', undefined, report);
    assert.equal(out, 'mail [EMAIL] or [EMAIL], call [PHONE]');
    assert.deepEqual(report.toReport(), { cells: 1, byDetector: { email: 1, phone: 1 }, nulled: 0 });
  });

  test('free text counts every match', () => {
    const report = new MaskReportBuilder();
    assert.equal(masker.maskText('alice@example.com bob@example.com', report), '[EMAIL] [EMAIL]');
    assert.deepEqual(report.toReport(), { cells: 2, byDetector: { email: 2 }, nulled: 0 });
  });

  test('counts add up across cells', () => {
    const report = new MaskReportBuilder();
    for (const cell of ['alice@example.com', '4111 1111 1111 1111', 'bob@example.com', 'plain']) masker.maskCell(cell, undefined, report);
    assert.deepEqual(report.toReport(), { cells: 3, byDetector: { email: 2, 'payment-card': 1 }, nulled: 0 });
  });
});

describe('custom detectors', () => {
  test('named regexes, global, with the name upper-cased or the label as written', () => {
    const masker = compile({
      detectors: [],
      custom: [
        { name: 'employee-id', regex: 'EMP-\\d{6}' },
        { name: 'ticket', regex: 'TCK\\d+', label: 'Ticket' },
      ],
    });
    const report = new MaskReportBuilder();
    assert.equal(masker.maskCell('EMP-123456 and EMP-654321 on TCK42', undefined, report), '[EMPLOYEE-ID] and [EMPLOYEE-ID] on [Ticket]');
    assert.deepEqual(report.toReport().byDetector, { 'employee-id': 1, ticket: 1 });
  });

  test('custom detectors run before the built-in ones', () => {
    const masker = compile({ custom: [{ name: 'support-line', regex: '\\+1 \\(800\\) \\d{3}-\\d{4}', label: 'SUPPORT' }] });
    const report = new MaskReportBuilder();
    assert.equal(masker.maskText('call +1 (800) 555-0100 or +1 (415) 555-2671', report), 'call [SUPPORT] or [PHONE]');
    assert.deepEqual(report.toReport().byDetector, { 'support-line': 1, phone: 1 });
  });

  test('a regex that can match the empty string does not loop', () => {
    const masker = compile({ detectors: [], custom: [{ name: 'xs', regex: 'x*' }] });
    assert.equal(masker.maskText('axxb', new MaskReportBuilder()), 'a[XS]b');
  });
});

describe('MaskReportBuilder', () => {
  test('add, addCell and nulled', () => {
    const report = new MaskReportBuilder();
    assert.equal(report.changed, false);
    report.add('email');
    report.add('email', 2);
    report.addCell(['phone', 'email']);
    report.add('ignored', 0);
    assert.deepEqual(report.toReport(), { cells: 4, byDetector: { email: 4, phone: 1 }, nulled: 0 });
  });

  test('a nulled value alone counts as a change', () => {
    const report = new MaskReportBuilder();
    report.nulled();
    assert.equal(report.changed, true);
    report.nulled(2);
    assert.equal(report.toReport().nulled, 3);
  });

  test('the report matches the shared schema', () => {
    const report = new MaskReportBuilder();
    report.add('REDACTED', 3);
    report.nulled(1);
    assert.deepEqual(MaskReport.parse(report.toReport()), { cells: 3, byDetector: { REDACTED: 3 }, nulled: 1 });
  });
});

describe('policy input', () => {
  test('compiles a policy object as the daemon holds it (defaults applied)', () => {
    const policy: MaskingPolicyType = { columns: [{ columns: '*token*', label: 'REDACTED' }], custom: [] };
    const masker = compileMasking(policy, 'db');
    assert.equal(masker.columnRule('refresh_token'), 'REDACTED');
    assert.equal(masker.maskCell('alice@example.com', masker.columnRule('email'), new MaskReportBuilder()), '[EMAIL]');
  });
});
