import type { Node } from 'web-tree-sitter';

/**
 * One shell word as the shell would see it before running: quotes and escapes removed when the
 * word is literal. A word with an expansion or substitution is not literal: its value is only
 * known when it runs, so `value` is then the text as written.
 */
export interface Word {
  value: string;
  /** the value is exactly what the shell passes (no expansion, substitution, glob or brace) */
  literal: boolean;
  /** unquoted glob characters (`*`, `?`, `[`): the shell may replace the word with file names */
  glob: boolean;
  /** unquoted brace expansion (`{a,b}`, `{1..3}`): the shell makes several words of it */
  brace: boolean;
}

export function literalWord(value: string): Word {
  return { value, literal: true, glob: false, brace: false };
}

const DYNAMIC = new Set(['simple_expansion', 'expansion', 'command_substitution', 'process_substitution', 'arithmetic_expansion']);

function children(node: Node): Node[] {
  return node.children.filter((c): c is Node => c !== null);
}

/** An unquoted word: backslash escapes removed, glob and brace characters noticed. */
function bareWord(text: string): Word {
  let value = '';
  let glob = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      const next = text[i + 1];
      i++;
      // a backslash-newline joins lines; any other escaped character stands for itself
      if (next !== undefined && next !== '\n') value += next;
      continue;
    }
    if (ch === '*' || ch === '?' || ch === '[') glob = true;
    value += ch;
  }
  return { value, literal: !glob, glob, brace: false };
}

/** Inside double quotes only \$ \` \" \\ and backslash-newline are escapes. */
function doubleQuotedText(text: string): string {
  return text.replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === '\n' ? '' : c));
}

const C_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };

/** $'...' as bash decodes it (the escapes an agent could use to spell a name: \x72, \162, \u0072). */
export function decodeAnsiC(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\' || i + 1 >= body.length) {
      out += ch;
      continue;
    }
    const e = body[++i]!;
    if (e in C_ESCAPES) {
      out += C_ESCAPES[e];
    } else if (e === 'x') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(body.slice(i + 1));
      if (m === null) out += '\\x';
      else {
        out += String.fromCharCode(parseInt(m[0], 16));
        i += m[0].length;
      }
    } else if (e === 'u' || e === 'U') {
      const m = (e === 'u' ? /^[0-9a-fA-F]{1,4}/ : /^[0-9a-fA-F]{1,8}/).exec(body.slice(i + 1));
      if (m === null) out += '\\' + e;
      else {
        const cp = parseInt(m[0], 16);
        out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
        i += m[0].length;
      }
    } else if (e >= '0' && e <= '7') {
      const m = /^[0-7]{1,3}/.exec(body.slice(i));
      const digits: string = m === null ? e : m[0];
      out += String.fromCharCode(parseInt(digits, 8) & 0xff);
      i += digits.length - 1;
    } else if (e === 'c' && i + 1 < body.length) {
      out += String.fromCharCode(body.charCodeAt(++i) & 0x1f);
    } else {
      out += '\\' + e;
    }
  }
  return out;
}

/** The word a node stands for (a command name, an argument, an assignment's value, a redirection target). */
export function wordOf(node: Node): Word {
  const text = node.text;
  switch (node.type) {
    case 'word':
    case 'command_name': {
      const inner = node.type === 'command_name' ? node.namedChildren[0] : null;
      if (inner !== null && inner !== undefined) return wordOf(inner);
      const w = bareWord(text);
      // `{a,b}` is parsed as one word or a concatenation: the shell expands it to several words
      if (/^[^{]*\{[^}]*(,|\.\.)[^}]*\}/.test(w.value)) return { ...w, literal: false, brace: true };
      return w;
    }
    case 'number':
    case 'variable_name':
    case 'test_operator':
      return literalWord(text);
    case 'raw_string':
      return literalWord(text.slice(1, -1));
    case 'ansi_c_string':
      return literalWord(decodeAnsiC(text.slice(2, -1)));
    case 'string':
    case 'translated_string': {
      if (children(node).some((c) => DYNAMIC.has(c.type))) return { value: text, literal: false, glob: false, brace: false };
      const open = node.type === 'translated_string' ? 2 : 1;
      return literalWord(doubleQuotedText(text.slice(open, -1)));
    }
    case 'concatenation': {
      const parts = node.namedChildren.filter((c): c is Node => c !== null).map(wordOf);
      const glob = parts.some((p) => p.glob);
      const brace = parts.some((p) => p.brace) || /^[^{]*\{[^}]*(,|\.\.)[^}]*\}/.test(text);
      // a glob keeps its resolved text, so that the directory it starts in can still be judged
      const dynamic = brace || parts.some((p) => !p.literal && !p.glob);
      return { value: dynamic ? text : parts.map((p) => p.value).join(''), literal: !dynamic && !glob, glob, brace };
    }
    case 'brace_expression':
      return { value: text, literal: false, glob: false, brace: true };
    default:
      return { value: text, literal: false, glob: false, brace: false };
  }
}
