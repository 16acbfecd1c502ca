import type { Node } from 'web-tree-sitter';
import { withParsedShell } from './parser.js';
import { HARMLESS_DEVICES, SENSITIVE_VARIABLES, baseName, classifyProgram, isSystemPath } from './programs.js';
import type { Verdict } from './programs.js';
import { combineShellClasses } from './types.js';
import type { ShellClass, ShellClassification, ShellCommand } from './types.js';
import { wordOf } from './words.js';
import type { Word } from './words.js';

/** Nested command lines (`bash -c` in `bash -c`, `sudo sh -c`, `eval`, `ssh host …`) deeper than this are unknown. */
export const MAX_NESTING = 8;
/** Syntax nested deeper than this (`$( $( $( …`) is unknown rather than walked: the walk recurses. */
export const MAX_TREE_DEPTH = 400;
/** Commands kept in a classification; more are counted, and still raise the class. */
export const MAX_COMMANDS = 1000;
/** Paths kept per list. */
export const MAX_PATHS = 1000;
const MAX_ARGV = 64;
const MAX_WORD_CHARS = 512;

/** What a command's standard input is, as far as the text shows. */
type Stdin = { kind: 'none' } | { kind: 'pipe' } | { kind: 'text'; text: string; literal: boolean };

interface State {
  commands: ShellCommand[];
  commandCount: number;
  writes: Set<string>;
  reads: Set<string>;
  /** classes that belong to the line, not to one command (a list's redirection, a limit reached) */
  lineClasses: ShellClass[];
  reasons: string[];
  sudo: boolean;
  pipeline: boolean;
  /** functions defined in the command line being walked (one map per parsed text: its nodes die with its tree) */
  functions: Map<string, Node>;
  calling: Set<string>;
  /** the directory relative paths start from: undefined for the login directory, null when not known */
  cwd: string | null | undefined;
}

interface Frame {
  via: string[];
  nesting: number;
  depth: number;
  stdin: Stdin;
}

/** Redirections of one command: their class and reasons are the command's. */
interface Effects {
  classes: ShellClass[];
  reasons: string[];
}

const DYNAMIC_NODES = new Set(['command_substitution', 'process_substitution']);

function named(node: Node): Node[] {
  return node.namedChildren.filter((c): c is Node => c !== null);
}

function all(node: Node): Node[] {
  return node.children.filter((c): c is Node => c !== null);
}

function clip(text: string): string {
  return text.length > MAX_WORD_CHARS ? `${text.slice(0, MAX_WORD_CHARS)}…` : text;
}

function addPath(set: Set<string>, path: string): void {
  if (set.size < MAX_PATHS) set.add(clip(path));
}

function normalize(path: string): string {
  const absolute = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  return absolute ? `/${joined}` : joined === '' ? '.' : joined;
}

/**
 * Where a path written or read points, from what the text shows. `~root` is root's home; other
 * `~` paths are a user's home. A relative path climbing out of the login directory (`../../etc`)
 * may reach anything: it is judged as if the login directory were `/`.
 */
function resolvePath(value: string, cwd: string | null | undefined): { path: string; known: boolean; judgeAs: string } {
  if (value.startsWith('~root')) {
    const p = normalize(`/root${value.slice(5)}`);
    return { path: p, known: true, judgeAs: p };
  }
  if (value.startsWith('~')) return relative(normalize(value));
  if (value.startsWith('/')) {
    const p = normalize(value);
    return { path: p, known: true, judgeAs: p };
  }
  if (cwd === null) return { path: value, known: false, judgeAs: value };
  if (cwd !== undefined) {
    const p = normalize(`${cwd}/${value}`);
    return p.startsWith('/') ? { path: p, known: true, judgeAs: p } : relative(p);
  }
  return relative(normalize(value));
}

/** A relative path (to the login directory or a home) that climbs out of it may reach anything: it is judged from `/`. */
function relative(p: string): { path: string; known: boolean; judgeAs: string } {
  return { path: p, known: true, judgeAs: p.startsWith('..') ? normalize(`/${p.replace(/^(\.\.\/?)+/, '')}`) : p };
}

export class Walker {
  private readonly s: State = { commands: [], commandCount: 0, writes: new Set(), reads: new Set(), lineClasses: [], reasons: [], sudo: false, pipeline: false, functions: new Map(), calling: new Set(), cwd: undefined };

  result(parseError?: string): ShellClassification {
    const s = this.s;
    const classes: ShellClass[] = [...s.commands.map((c) => c.class), ...s.lineClasses];
    if (parseError !== undefined) classes.push('unknown');
    return {
      class: combineShellClasses(classes),
      commands: s.commands,
      commandCount: s.commandCount,
      pathsWritten: [...s.writes],
      pathsRead: [...s.reads],
      sudo: s.sudo,
      pipeline: s.pipeline,
      ...(parseError !== undefined ? { parseError } : {}),
      reasons: [...new Set(s.reasons)],
    };
  }

  /** A class and reason for the whole line. */
  private line(cls: ShellClass, reason: string): void {
    this.s.lineClasses.push(cls);
    this.s.reasons.push(reason);
  }

  /** Walks a parsed program (the whole text, or the code of `bash -c`, `eval`, ...). */
  program(root: Node, frame: Frame): void {
    const saved = this.s.functions;
    this.s.functions = new Map();
    try {
      this.statement(root, frame);
    } finally {
      this.s.functions = saved;
    }
  }

  /** Parses and walks shell code that a command runs (`bash -c CODE`, `eval`, a heredoc fed to a shell). */
  private nested(code: Word, label: string, frame: Frame): void {
    const via = [...frame.via, label];
    if (!code.literal) {
      this.record({ program: null, argv: [clip(code.value)], class: 'unknown', via, reasons: [`${label} runs code known only when it runs`] });
      return;
    }
    if (frame.nesting + 1 > MAX_NESTING) {
      this.record({ program: null, argv: [clip(code.value)], class: 'unknown', via, reasons: [`command lines nested more than ${MAX_NESTING} deep`] });
      return;
    }
    withParsedShell(code.value, (tree) => {
      if (tree.rootNode.hasError) {
        this.record({ program: null, argv: [clip(code.value)], class: 'unknown', via, reasons: [`${label}: ${describeSyntaxError(tree.rootNode)}`] });
      }
      this.program(tree.rootNode, { via, nesting: frame.nesting + 1, depth: 0, stdin: { kind: 'none' } });
    });
  }

  private record(c: ShellCommand): void {
    this.s.commandCount++;
    if (this.s.commands.length < MAX_COMMANDS) this.s.commands.push(c);
    // a command past the cap still decides the class
    else this.s.lineClasses.push(c.class);
  }

  private deeper(frame: Frame, stdin: Stdin = frame.stdin): Frame {
    return { ...frame, depth: frame.depth + 1, stdin };
  }

  statement(node: Node, frame: Frame): void {
    if (frame.depth > MAX_TREE_DEPTH) {
      this.line('unknown', `the command line nests deeper than ${MAX_TREE_DEPTH} levels`);
      return;
    }
    switch (node.type) {
      case 'comment':
      case 'heredoc_body':
      case 'heredoc_start':
      case 'heredoc_end':
        return;
      case 'command':
        this.command(node, frame, { classes: [], reasons: [] });
        return;
      case 'pipeline':
        this.pipeline(node, frame);
        return;
      case 'redirected_statement':
        this.redirected(node, frame);
        return;
      case 'function_definition': {
        const name = node.childForFieldName('name');
        const body = node.childForFieldName('body');
        if (name !== null && body !== null) this.s.functions.set(name.text, body);
        return;
      }
      case 'variable_assignment':
        this.assignment(node, frame);
        return;
      case 'declaration_command':
      case 'unset_command':
        for (const child of named(node)) {
          if (child.type === 'variable_assignment') this.assignment(child, frame);
          else this.substitutions(child, frame);
        }
        return;
      case 'command_substitution':
      case 'process_substitution':
        for (const child of named(node)) this.statement(child, { ...this.deeper(frame, { kind: 'none' }), via: [...frame.via, node.type === 'process_substitution' ? '<( )' : '$( )'] });
        return;
      case 'file_redirect':
      case 'heredoc_redirect':
      case 'herestring_redirect': {
        const effects: Effects = { classes: [], reasons: [] };
        this.redirect(node, frame, effects);
        effects.classes.forEach((c, i) => this.line(c, effects.reasons[i] ?? ''));
        return;
      }
      case 'ERROR':
        // the line is already unknown through its parse error; commands inside are still listed
        for (const child of named(node)) this.statement(child, this.deeper(frame));
        return;
      default:
        // lists, subshells, groups, if/while/for/case, negation, test commands: everything inside runs
        for (const child of named(node)) this.statement(child, this.deeper(frame));
    }
  }

  /** Words, tests and expansions: only their substitutions run commands. */
  private substitutions(node: Node, frame: Frame): void {
    if (frame.depth > MAX_TREE_DEPTH) {
      this.line('unknown', `the command line nests deeper than ${MAX_TREE_DEPTH} levels`);
      return;
    }
    if (DYNAMIC_NODES.has(node.type)) {
      this.statement(node, frame);
      return;
    }
    for (const child of named(node)) this.substitutions(child, this.deeper(frame));
  }

  private assignment(node: Node, frame: Frame): void {
    const name = node.childForFieldName('name')?.text ?? '';
    if (SENSITIVE_VARIABLES.has(name)) this.line('unknown', `sets ${name}, which changes what later programs are or load`);
    for (const child of named(node)) this.substitutions(child, this.deeper(frame));
  }

  private pipeline(node: Node, frame: Frame): void {
    this.s.pipeline = true;
    let stdin: Stdin = frame.stdin;
    for (const child of all(node)) {
      if (!child.isNamed) {
        if (child.type === '|' || child.type === '|&') stdin = { kind: 'pipe' };
        continue;
      }
      this.statement(child, this.deeper(frame, stdin));
    }
  }

  private redirected(node: Node, frame: Frame): void {
    const body = node.childForFieldName('body');
    const effects: Effects = { classes: [], reasons: [] };
    let stdin: Stdin = frame.stdin;
    const after: Array<{ node: Node; stdin: Stdin }> = [];
    const redirects: Node[] = [];
    for (const child of all(node)) {
      if (child.id === body?.id || !child.isNamed) continue;
      if (child.type === 'heredoc_redirect') {
        stdin = this.heredoc(child, frame, effects, after);
      } else if (child.type === 'herestring_redirect') {
        const w = named(child)[0];
        if (w !== undefined) {
          this.substitutions(w, this.deeper(frame));
          const word = wordOf(w);
          stdin = { kind: 'text', text: word.value, literal: word.literal };
        }
      } else if (body?.type === 'command') {
        this.redirect(child, frame, effects);
      } else redirects.push(child);
    }
    if (body !== null) {
      if (body.type === 'command') this.command(body, this.deeper(frame, stdin), effects);
      else {
        // `a && b > f`: tree-sitter gives the redirection to the whole list; the shell gives it to
        // its last command, so the path is judged after the list ran (`cd /etc && echo x > passwd`)
        this.statement(body, this.deeper(frame, stdin));
        const late: Effects = { classes: [], reasons: [] };
        for (const r of redirects) this.redirect(r, frame, late);
        [...effects.classes, ...late.classes].forEach((c, i) => this.line(c, [...effects.reasons, ...late.reasons][i] ?? ''));
      }
    }
    for (const next of after) this.statement(next.node, this.deeper(frame, next.stdin));
  }

  /**
   * A heredoc: the body is data for the command's standard input (its substitutions run when the
   * delimiter is unquoted). tree-sitter puts what follows the `<<EOF` on its line inside the
   * redirect node: `| sh` (a pipeline continuing from the command), `&& next`, `> file`.
   */
  private heredoc(node: Node, frame: Frame, effects: Effects, after: Array<{ node: Node; stdin: Stdin }>): Stdin {
    let text = '';
    let quoted = false;
    let pipeNext = false;
    for (const child of all(node)) {
      if (!child.isNamed) {
        if (child.type === '|' || child.type === '|&') pipeNext = true;
        continue;
      }
      switch (child.type) {
        case 'heredoc_start':
          quoted = /['"\\]/.test(child.text);
          break;
        case 'heredoc_body':
          text = child.text;
          if (!quoted) this.substitutions(child, this.deeper(frame));
          break;
        case 'heredoc_end':
          break;
        case 'file_redirect':
        case 'herestring_redirect':
          this.redirect(child, frame, effects);
          break;
        case 'pipeline':
          this.s.pipeline = true;
          after.push({ node: child, stdin: { kind: 'pipe' } });
          break;
        default:
          after.push({ node: child, stdin: pipeNext ? { kind: 'pipe' } : { kind: 'none' } });
          if (pipeNext) this.s.pipeline = true;
      }
    }
    // an unquoted heredoc's body is expanded before the command reads it
    return { kind: 'text', text: text.replace(/\n[^\n]*$/, '\n'), literal: quoted || !/[$`\\]/.test(text) };
  }

  /** An output redirection to a file is a write of that file; `2>&1`, `>/dev/null` are not. */
  private redirect(node: Node, frame: Frame, effects: Effects): void {
    if (node.type === 'heredoc_redirect') {
      this.heredoc(node, frame, effects, []);
      return;
    }
    if (node.type === 'herestring_redirect') {
      for (const child of named(node)) this.substitutions(child, this.deeper(frame));
      return;
    }
    const operator = all(node).find((c) => !c.isNamed)?.type ?? '>';
    const destinations = node.childrenForFieldName('destination').filter((c): c is Node => c !== null);
    for (const d of destinations) this.substitutions(d, this.deeper(frame));
    const dest = destinations[0];
    if (dest === undefined) return;
    const word = wordOf(dest);
    const isWrite = ['>', '>>', '&>', '&>>', '>|', '<>', '>&'].includes(operator);
    const isRead = operator === '<' || operator === '<>';
    // `>&2`, `2>&1`, `>&-`: duplicating or closing a descriptor is no file
    if ((operator === '>&' || operator === '<&') && /^(\d+-?|-)$/.test(word.value)) return;
    if (operator === '<&' || operator === '>&-') return;
    if (isRead) this.readPath(word);
    if (isWrite) this.writePath(word, `redirection ${operator}`, effects);
  }

  private readPath(word: Word): void {
    if (word.literal || word.glob) addPath(this.s.reads, resolvePath(word.value, this.s.cwd).path);
  }

  /** Records a path written and what writing it means: privileged under a system directory, unknown when not known. */
  private writePath(word: Word, how: string, effects: Effects): void {
    if (!word.literal && !word.glob) {
      addPath(this.s.writes, word.value);
      effects.classes.push('unknown');
      effects.reasons.push(`${how} writes ${clip(word.value)}, a path known only when it runs`);
      return;
    }
    const r = resolvePath(word.value, this.s.cwd);
    if (HARMLESS_DEVICES.has(r.path) || /^\/dev\/fd\/\d+$/.test(r.path)) return;
    addPath(this.s.writes, r.path);
    if (!r.known) {
      effects.classes.push('unknown');
      effects.reasons.push(`${how} writes ${clip(word.value)} in a directory known only when it runs`);
    } else if (isSystemPath(r.judgeAs)) {
      effects.classes.push('privileged');
      effects.reasons.push(`${how} writes ${clip(r.path)}, a system path`);
    } else {
      effects.classes.push('write');
      effects.reasons.push(`${how} writes ${clip(r.path)}`);
    }
  }

  private command(node: Node, frame: Frame, effects: Effects): void {
    let nameNode: Node | null = null;
    const args: Node[] = [];
    let stdin = frame.stdin;
    for (const child of all(node)) {
      if (!child.isNamed) continue;
      if (child.type === 'variable_assignment') this.assignment(child, frame);
      else if (child.type === 'file_redirect') this.redirect(child, frame, effects);
      else if (child.type === 'herestring_redirect') {
        const w = named(child)[0];
        if (w !== undefined) {
          this.substitutions(w, this.deeper(frame));
          const word = wordOf(w);
          stdin = { kind: 'text', text: word.value, literal: word.literal };
        }
      } else if (child.type === 'heredoc_redirect') stdin = this.heredoc(child, frame, effects, []);
      else if (child.type === 'command_name') nameNode = child;
      else if (nameNode !== null) args.push(child);
      else this.substitutions(child, this.deeper(frame));
    }
    // `FOO=1` alone, or only redirections (`> file` truncates it)
    if (nameNode === null) {
      effects.classes.forEach((c, i) => this.line(c, effects.reasons[i] ?? ''));
      return;
    }
    this.substitutions(nameNode, this.deeper(frame));
    for (const a of args) this.substitutions(a, this.deeper(frame));
    const words = [wordOf(nameNode), ...args.map(wordOf)];
    this.invoke(words, { ...frame, stdin }, effects);
  }

  /** Classifies a command given as words (from the parse, or a wrapper's inner command) and records it. */
  private invoke(words: Word[], frame: Frame, effects: Effects, fromData = false): void {
    const [name, ...args] = words;
    if (name === undefined) return;
    const argv = words.slice(0, MAX_ARGV).map((w) => clip(w.value));
    if (!name.literal) {
      const what = name.brace ? 'a brace expansion' : name.glob ? 'a glob' : 'a variable or substitution';
      this.record({ program: null, argv, class: combineShellClasses(['unknown', ...effects.classes]), via: frame.via, reasons: [`the command name is ${what}: the program is known only when it runs`, ...effects.reasons] });
      return;
    }
    const program = name.value;
    const fn = this.s.functions.get(program);
    if (fn !== undefined && !program.includes('/')) {
      this.record({ program, argv, class: combineShellClasses(effects.classes), via: frame.via, reasons: ['a function defined in the command line', ...effects.reasons] });
      if (this.s.calling.has(program)) return;
      this.s.calling.add(program);
      try {
        this.statement(fn, { ...this.deeper(frame), via: [...frame.via, `${program}()`] });
      } finally {
        this.s.calling.delete(program);
      }
      return;
    }
    if (program === '') {
      this.record({ program, argv, class: 'unknown', via: frame.via, reasons: ['an empty command name', ...effects.reasons] });
      return;
    }
    const verdicts: Verdict[] = classifyProgram(program, args);
    const [own, ...more] = verdicts;
    if (own === undefined) return;
    const classes: ShellClass[] = [own.class, ...effects.classes];
    const reasons = [...own.reasons, ...effects.reasons];
    for (const w of own.writes ?? []) this.writePath(w, baseName(program), { classes, reasons });
    for (const w of own.reads ?? []) this.readPath(w);
    if (own.sudo === true) this.s.sudo = true;
    if (fromData && own.inner === undefined && own.script === undefined) reasons.push(`runs on data from ${frame.via[frame.via.length - 1] ?? 'its input'}`);
    if (own.runsStdin !== undefined) {
      const stdin = frame.stdin;
      if (stdin.kind === 'pipe') {
        classes.push('unknown');
        reasons.push(`${own.runsStdin} runs the commands piped into it`);
      } else if (stdin.kind === 'none') {
        classes.push('unknown');
        reasons.push(`${own.runsStdin} reads commands from the session's input`);
      }
    }
    if (own.cd !== undefined) this.cd(own.cd);
    this.record({ program, argv, class: combineShellClasses(classes), via: frame.via, reasons });
    if (own.runsStdin !== undefined && frame.stdin.kind === 'text') {
      this.nested({ value: frame.stdin.text, literal: frame.stdin.literal, glob: false, brace: false }, `${own.runsStdin} <<`, frame);
    }
    for (const v of [own, ...more]) {
      if (v.inner !== undefined && v.inner.words.length > 0) {
        if (frame.nesting + 1 > MAX_NESTING) {
          this.line('unknown', `commands wrapped more than ${MAX_NESTING} deep`);
          continue;
        }
        this.invoke(v.inner.words, { ...frame, via: [...frame.via, v.inner.label], nesting: frame.nesting + 1 }, { classes: [], reasons: [] }, v.inner.fromData === true);
      }
      if (v.script !== undefined) this.nested(v.script.code, v.script.label, frame);
    }
  }

  /** `cd DIR`: later relative paths start there; a directory known only when it runs makes them unknown. */
  private cd(target: Word | null): void {
    if (target === null) this.s.cwd = undefined;
    else if (!target.literal || target.value === '-') this.s.cwd = null;
    else {
      const r = resolvePath(target.value, this.s.cwd);
      this.s.cwd = r.known ? r.path : null;
    }
  }
}

/** Where the first ERROR or MISSING node is, as a person reads it. */
export function describeSyntaxError(root: Node): string {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const n = stack.pop() as Node;
    if (n.isMissing) return `syntax error: missing ${n.type} at line ${n.startPosition.row + 1}, column ${n.startPosition.column + 1}`;
    if (n.type === 'ERROR') {
      const near = n.text.slice(0, 40).replace(/\s+/g, ' ');
      return `syntax error at line ${n.startPosition.row + 1}, column ${n.startPosition.column + 1} near "${near}"`;
    }
    const kids = n.children.filter((c): c is Node => c !== null && c.hasError);
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
  }
  return 'syntax error';
}
