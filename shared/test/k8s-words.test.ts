import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quoteWord, singularOf } from '../src/index.js';

test('singularOf gives kubectl-style singulars', () => {
  assert.deepEqual(
    ['deployments', 'ingresses', 'networkpolicies', 'endpoints', 'statuses', 'pods', 'status'].map(singularOf),
    ['deployment', 'ingress', 'networkpolicy', 'endpoints', 'status', 'pod', 'status'],
  );
});

test('quoteWord leaves plain words bare and quotes the rest as a shell would need', () => {
  assert.equal(quoteWord('ls'), 'ls');
  assert.equal(quoteWord('--namespace=prod'), '--namespace=prod');
  assert.equal(quoteWord(''), '""');
  assert.equal(quoteWord('rm -rf /data'), '"rm -rf /data"');
  assert.equal(quoteWord('a  b'), '"a  b"', 'spaces are part of the command and are kept');
  assert.equal(quoteWord('echo "$HOME" `id` \\'), '"echo \\"\\$HOME\\" \\`id\\` \\\\"');
});

test('quoteWord shows line breaks and hiding characters instead of passing them to the view', () => {
  assert.equal(quoteWord('a\nb\tc\rd'), '"a\\nb\\tc\\rd"');
  assert.equal(quoteWord('safe\u202eevil'), '"safe\\u{202e}evil"');
  assert.equal(quoteWord('x\u001b[2Jy'), '"x\\u{1b}[2Jy"');
});
