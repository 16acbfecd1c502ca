import { createRequire } from 'node:module';
import { Language, Parser } from 'web-tree-sitter';
import type { Tree } from 'web-tree-sitter';

/**
 * tree-sitter's bash grammar through web-tree-sitter (WebAssembly): the only I/O of the shell
 * classifier is loading the two wasm files once. The grammar's wasm ships in the tree-sitter-bash
 * package; its ABI must be one web-tree-sitter reads, so both are pinned to the same minor (0.25).
 */

let loading: Promise<void> | undefined;
let parser: Parser | undefined;

/** Loads the bash grammar once; later calls return the same promise. */
export function initShellClassifier(): Promise<void> {
  loading ??= (async () => {
    await Parser.init();
    // resolved through the package, so it works from src, dist and an installed daemon alike
    const wasmPath = createRequire(import.meta.url).resolve('tree-sitter-bash/tree-sitter-bash.wasm');
    const bash = await Language.load(wasmPath);
    const p = new Parser();
    p.setLanguage(bash);
    parser = p;
  })().catch((error: unknown) => {
    // let a later call try again rather than keep a failed load forever
    loading = undefined;
    throw error;
  });
  return loading;
}

export function shellParserReady(): boolean {
  return parser !== undefined;
}

/**
 * Parses `text` and hands the tree to `use`; the tree lives in WebAssembly memory and is freed
 * when `use` returns, so nothing of it may escape `use`.
 */
export function withParsedShell<T>(text: string, use: (tree: Tree) => T): T {
  if (parser === undefined) throw new Error('classifyShell: the bash parser is not loaded; await initShellClassifier() first');
  const tree = parser.parse(text);
  if (tree === null) throw new Error('the bash parser returned no tree');
  try {
    return use(tree);
  } finally {
    tree.delete();
  }
}
