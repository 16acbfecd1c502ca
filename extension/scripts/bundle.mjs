#!/usr/bin/env node
// Bundles the extension: the host code (Node, CommonJS, vscode external) and the webviews (browser,
// ES modules), and copies the webviews' stylesheets (ours, codicons, xterm) into out/webview.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(import.meta.url);
const production = process.argv.includes('--production');
const out = path.join(root, 'out');
const webviewOut = path.join(out, 'webview');
mkdirSync(webviewOut, { recursive: true });

await Promise.all([
  build({
    // two bundles: the activation entry (tiny) and the core it loads right after activation
    entryPoints: { extension: path.join(root, 'src/extension.ts'), core: path.join(root, 'src/core.ts') },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    outdir: out,
    outExtension: { '.js': '.cjs' },
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
  }),
  build({
    entryPoints: ['approval', 'masked', 'replay'].map((name) => ({ in: path.join(root, `src/webview/${name}.ts`), out: name })),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'chrome120',
    outdir: webviewOut,
    sourcemap: !production,
    minify: true,
    logLevel: 'warning',
  }),
]);

const codicons = path.dirname(require.resolve('@vscode/codicons/dist/codicon.css'));
copyFileSync(path.join(codicons, 'codicon.css'), path.join(webviewOut, 'codicon.css'));
copyFileSync(path.join(codicons, 'codicon.ttf'), path.join(webviewOut, 'codicon.ttf'));
const xtermCss = readFileSync(require.resolve('@xterm/xterm/css/xterm.css'), 'utf8');
writeFileSync(path.join(webviewOut, 'webview.css'), `${readFileSync(path.join(root, 'media/webview.css'), 'utf8')}\n/* @xterm/xterm */\n${xtermCss}`);
