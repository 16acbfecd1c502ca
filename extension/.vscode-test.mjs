// `npm run test:desktop -w airlock-vscode`: the extension-host suite in desktop VS Code through
// @vscode/test-cli / @vscode/test-electron, where VS Code can be downloaded (not on the CI machines:
// there the same checks run in the VS Code server of code-server, `npm run test:vscode`). It needs
// `npm run build` and the bundle; the suite starts its own daemon in a scratch AIRLOCK_HOME.
import { defineConfig } from '@vscode/test-cli';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'airlock-desktop-'));

export default defineConfig({
  label: 'desktop',
  files: 'test/desktop/**/*.test.cjs',
  version: process.env.VSCODE_VERSION ?? 'stable',
  workspaceFolder: scratch,
  env: { AIRLOCK_HOME: path.join(scratch, 'home') },
  launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
  mocha: { ui: 'tdd', timeout: 90_000 },
});
