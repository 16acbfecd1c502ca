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
/** Read commands kept in a classification, and other commands kept; more are counted, and still raise the class. */
export const MAX_COMMANDS = 1000;
/**
 * Simple commands walked at most; past this the rest of the line is unknown. It bounds the time of
 * one classification (about 40 µs a command, most of it reading the tree out of WebAssembly).
 */
export const MAX_WALKED_COMMANDS = 5000;
/** Paths kept per list. */
export const MAX_PATHS = 1000;
const MAX_ARGV = 64;
const MAX_WORD_CHARS = 512;

/** What a command's standard input is, as far as the text shows. */
type Stdin = { kind: 'none' } | { kind: 'pipe' } | { kind: 'text'; text: string; literal: boolean };

interface State {
  commands: ShellCommand[];
  commandCount: number;
  keptReads: number;
  /** MAX_WALKED_COMMANDS reached */
  stopped: boolean;
  keptOthers: number;
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
  /** the text being walked (the line, or the code of a `bash -c`): node offsets index into it */
  source: string;
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
  const tilde = /^~([^/]*)/.exec(value);
  if (tilde !== null) {
    const user = tilde[1] ?? '';
    const rest = value.slice(tilde[0].length);
    if (user === '') return relative(normalize(value));
    if (user === 'root') {
      const p = normalize(`/root${rest}`);
      return { path: p, known: true, judgeAs: p };
    }
    // `~+` is the current directory: `cd /etc; echo x > ~+/passwd`
    if (user === '+') return resolvePath(`.${rest}`, cwd);
    // `~-` is the previous directory, `~postgres` may be /var/lib/postgresql: not known from the text
    return { path: value, known: false, judgeAs: value };
  }
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

/** `pre{a,b}post` as bash expands it; undefined for anything else (nesting, ranges, quotes, expansions). */
function expandSimpleBraces(text: string): string[] | undefined {
  const m = /^([^{}$`'"\\]*)\{([^{}$`'"\\]*,[^{}$`'"\\]*)\}([^{}$`'"\\]*)$/.exec(text);
  if (m === null) return undefined;
  return (m[2] ?? '').split(',').map((alt) => `${m[1] ?? ''}${alt}${m[3] ?? ''}`);
}

/** A relative path (to the login directory or a home) that climbs out of it may reach anything: it is judged from `/`. */
function relative(p: string): { path: string; known: boolean; judgeAs: string } {
  return { path: p, known: true, judgeAs: p.startsWith('..') ? normalize(`/${p.replace(/^(\.\.\/?)+/, '')}`) : p };
}

export class Walker {
  private readonly s: State = { commands: [], commandCount: 0, keptReads: 0, keptOthers: 0, stopped: false, writes: new Set(), reads: new Set(), lineClasses: [], reasons: [], sudo: false, pipeline: false, functions: new Map(), calling: new Set(), source: '', cwd: undefined };

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
  program(root: Node, source: string, frame: Frame): void {
    const saved = { functions: this.s.functions, source: this.s.source };
    this.s.functions = new Map();
    this.s.source = source;
    try {
      this.statement(root, frame);
    } finally {
      this.s.functions = saved.functions;
      this.s.source = saved.source;
    }
  }

  /** Parses and walks shell code that a command runs (`bash -c CODE`, `eval`, a heredoc fed to a shell). */
  private nested(code: Word, label: string, frame: Frame, stdin: Stdin = frame.stdin): void {
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
      // depth goes on from the outer line's, so that nesting both ways stays within MAX_TREE_DEPTH
      this.program(tree.rootNode, code.value, { via, nesting: frame.nesting + 1, depth: frame.depth + 1, stdin });
    });
  }

  /**
   * Keeps the first MAX_COMMANDS reads and the first MAX_COMMANDS others, so that 5,000 harmless
   * commands do not push the one that matters out of what an approver sees.
   */
  private record(c: ShellCommand): void {
    this.s.commandCount++;
    const isRead = c.class === 'read';
    if ((isRead ? this.s.keptReads : this.s.keptOthers) < MAX_COMMANDS) {
      this.s.commands.push(c);
      if (isRead) this.s.keptReads++;
      else this.s.keptOthers++;
    } else this.s.lineClasses.push(c.class);
  }

  private deeper(frame: Frame, stdin: Stdin = frame.stdin): Frame {
    return { ...frame, depth: frame.depth + 1, stdin };
  }

  statement(node: Node, frame: Frame): void {
    if (this.s.commandCount >= MAX_WALKED_COMMANDS) {
      if (!this.s.stopped) this.line('unknown', `the command line has more than ${MAX_WALKED_COMMANDS} commands; the rest was not read`);
      this.s.stopped = true;
      return;
    }
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
      case 'process_substitution': {
        // `>(cmd)` reads what the outer command writes into it
        const output = node.type === 'process_substitution' && node.text.startsWith('>');
        const label = node.type === 'command_substitution' ? '$( )' : output ? '>( )' : '<( )';
        for (const child of named(node)) this.statement(child, { ...this.deeper(frame, output ? { kind: 'pipe' } : { kind: 'none' }), via: [...frame.via, label] });
        return;
      }
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
    const extraArgs: Node[] = [];
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
      } else if (body !== null && body.type === 'command') {
        this.redirect(child, frame, effects, extraArgs);
      } else redirects.push(child);
    }
    if (body !== null) {
      if (body.type === 'command') this.command(body, this.deeper(frame, stdin), effects, extraArgs);
      else {
        // `a && b > f`: tree-sitter gives the redirection to the whole list; the shell gives it to
        // its last command, so the path is judged after the list ran (`cd /etc && echo x > passwd`)
        this.statement(body, this.deeper(frame, stdin));
        const late: Effects = { classes: [], reasons: [] };
        for (const r of redirects) this.redirect(r, frame, late);
        [...effects.classes, ...late.classes].forEach((c, i) => this.line(c, [...effects.reasons, ...late.reasons][i] ?? ''));
      }
    } else {
      // `> file` alone truncates (or creates) the file
      for (const r of redirects) this.redirect(r, frame, effects);
      effects.classes.forEach((c, i) => this.line(c, effects.reasons[i] ?? ''));
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
    return { kind: 'text', text, literal: quoted || !/[$`\\]/.test(text) };
  }

  /** An output redirection to a file is a write of that file; `2>&1`, `>/dev/null` are not. */
  /**
   * `extras` receives the words tree-sitter put after the target (`rm -rf 2>/dev/null /etc`): bash
   * passes them to the command as arguments. Without `extras` (a redirection of a list) they make
   * the line unknown.
   */
  private redirect(node: Node, frame: Frame, effects: Effects, extras?: Node[]): void {
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
    // the target is the first word, with what a backslash-newline joins to it
    let targetCount = destinations.length === 0 ? 0 : 1;
    while (targetCount < destinations.length && this.continues(destinations[targetCount - 1]!, destinations[targetCount]!)) targetCount++;
    const target = destinations.slice(0, targetCount);
    const leftover = destinations.slice(targetCount);
    for (const d of target) this.substitutions(d, this.deeper(frame));
    if (leftover.length > 0) {
      if (extras !== undefined) extras.push(...leftover);
      else {
        for (const d of leftover) this.substitutions(d, this.deeper(frame));
        effects.classes.push('unknown');
        effects.reasons.push('words after a redirection of a list, which the parser could not place');
      }
    }
    const word = this.joinContinued(target)[0];
    if (word === undefined) return;
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
    // `rm -rf {/etc,/tmp}`: one plain brace list is expanded here so each path is judged
    const alternatives = word.brace ? expandSimpleBraces(word.value) : undefined;
    if (alternatives !== undefined) {
      for (const value of alternatives) this.writePath({ value, literal: !/[*?[]/.test(value), glob: /[*?[]/.test(value), brace: false }, how, effects);
      return;
    }
    if (!word.literal && !word.glob) {
      addPath(this.s.writes, word.value);
      effects.classes.push('unknown');
      effects.reasons.push(`${how} writes ${clip(word.value)}, a path known only when it runs`);
      return;
    }
    const r = resolvePath(word.value, this.s.cwd);
    if (HARMLESS_DEVICES.has(r.path) || /^\/dev\/fd\/\d+$/.test(r.path)) return;
    addPath(this.s.writes, r.path);
    if (/^\/dev\/(tcp|udp)\//.test(r.path)) {
      // bash opens a network connection for these names: a send, as curl -d is
      effects.classes.push('write');
      effects.reasons.push(`${how} sends data to ${clip(r.path.slice(9))} over the network`);
    } else if (!r.known) {
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

  /** `extraArgs`: words tree-sitter put in the statement's redirections that bash gives the command */
  private command(node: Node, frame: Frame, effects: Effects, extraArgs: Node[] = []): void {
    let nameNode: Node | null = null;
    const args: Node[] = [];
    let stdin = frame.stdin;
    for (const child of all(node)) {
      if (!child.isNamed) continue;
      if (child.type === 'variable_assignment') this.assignment(child, frame);
      else if (child.type === 'file_redirect') this.redirect(child, frame, effects, args);
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
    args.push(...extraArgs);
    this.substitutions(nameNode, this.deeper(frame));
    for (const a of args) this.substitutions(a, this.deeper(frame));
    this.invoke(this.joinContinued([nameNode, ...args]), { ...frame, stdin }, effects);
  }

  /**
   * The words of a command as bash reads them. tree-sitter splits a word at a backslash-newline
   * with no blank around it, where bash joins the two halves (`ip\<newline>tables -F` runs
   * iptables): such neighbours are joined here.
   */
  private continues(previous: Node, node: Node): boolean {
    return /^(\\\n)+$/.test(this.s.source.slice(previous.endIndex, node.startIndex));
  }

  private joinContinued(nodes: Node[]): Word[] {
    const words: Word[] = [];
    let previous: Node | undefined;
    for (const node of nodes) {
      const word = wordOf(node);
      const last = words[words.length - 1];
      if (last !== undefined && previous !== undefined && this.continues(previous, node)) {
        const literal = last.literal && word.literal;
        words[words.length - 1] = { value: last.value + word.value, literal, glob: last.glob || word.glob, brace: last.brace || word.brace };
      } else words.push(word);
      previous = node;
    }
    return words;
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
      // the shell reads its commands from the heredoc, so they have no input of their own
      this.nested({ value: frame.stdin.text, literal: frame.stdin.literal, glob: false, brace: false }, `${own.runsStdin} <<`, frame, { kind: 'none' });
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
