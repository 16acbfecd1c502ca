#!/usr/bin/env node
// The `airlock` command. A committed shim, so npm links it at install time, before the first build.
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('airlock: the CLI is not built yet; run "npm run build" in the repository first');
  process.exit(1);
}
await import(main.href);
