#!/usr/bin/env node
// `npm start`: install (when node_modules is missing or older than the lockfile), build, and run
// airlockd in the foreground on its embedded default config. Needs nothing but Node.js and npm.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const installed = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.error('airlock: installing dependencies (npm ci)…');
  run(npm, ['ci', '--no-audit', '--no-fund']);
}
console.error('airlock: building…');
run(npm, ['run', 'build', '--silent']);

const daemon = spawn(process.execPath, [path.join(root, 'daemon/dist/src/cli/main.js'), 'up', '--demo', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => daemon.kill(signal));
daemon.on('exit', (code) => process.exit(code ?? 0));
