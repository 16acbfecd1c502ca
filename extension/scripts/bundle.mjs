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

/**
 * zod's `z` namespace re-exports every message locale (about 250 KB minified) and a namespace is not
 * tree-shaken; Airlock uses the default English messages only, so the locale index is cut to `en`.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /locales\/index\.js$/ }, (args) => (args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: path.resolve(args.resolveDir, args.path), namespace: 'zod-en' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'zod-en' }, (args) => ({ contents: 'export { default as en } from "./en.js";', resolveDir: path.dirname(args.path) }));
  },
};

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
    plugins: [zodEnglishOnly],
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
    plugins: [zodEnglishOnly],
  }),
]);

const codicons = path.dirname(require.resolve('@vscode/codicons/dist/codicon.css'));
copyFileSync(path.join(codicons, 'codicon.css'), path.join(webviewOut, 'codicon.css'));
copyFileSync(path.join(codicons, 'codicon.ttf'), path.join(webviewOut, 'codicon.ttf'));
const xtermCss = readFileSync(require.resolve('@xterm/xterm/css/xterm.css'), 'utf8');
writeFileSync(path.join(webviewOut, 'webview.css'), `${readFileSync(path.join(root, 'media/webview.css'), 'utf8')}\n/* @xterm/xterm */\n${xtermCss}`);
