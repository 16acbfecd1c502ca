import { DETECTORS } from '@airlock/shared';
import type { DetectorName, MaskingPolicy } from '@airlock/shared';
import { GlobMatcher } from '../policy/glob.js';
import { PLAIN_DETECTOR_BITS, PLAIN_SCANS, SECRET_DETECTORS, SECRET_MIN_LENGTH, findEmailSpans, findPlainSpans, mayHoldIbanAscii, mayHoldSecret, plainSpansPossible, scanWith } from './detectors.js';
import type { SecretDetector } from './detectors.js';
import { HAS_AT, RUN_13, SECRET_HINT, allDigitsAscii, cardRunTier, isIsoDateTimeAscii, isUuid, isUuidAscii, textFeatures, textFeaturesAscii, textFeaturesRange, withoutPhoneRun } from './features.js';
import type { MaskReportBuilder } from './report.js';
import { SpanList } from './spans.js';

interface ColumnRulePlan {
  /** lower-cased globs, matched against lower-cased column names */
  readonly columns: GlobMatcher;
  readonly label: string;
}

interface CustomDetectorPlan {
  readonly name: string;
  readonly regex: RegExp;
  readonly replacement: string;
}

/** What a column rule puts in place of a whole cell. */
export function columnForm(label: string): string {
  return `[${label}]`;
}

/** What a custom detector puts in place of a match: its label as written, else its name upper-cased. */
export function customForm(name: string, label: string | undefined): string {
  return `[${label ?? name.toUpperCase()}]`;
}

/**
 * The masking policy compiled for one target. Stateless between calls apart from scratch space,
 * so one instance serves every connection to the target (JavaScript runs one call at a time).
 *
 * Order within a text: custom detectors first (the policy author knows best), then the built-in
 * secret detectors, then email, IBAN, payment card, phone and national id. Characters one detector
 * replaced are not looked at by the later ones.
 */
export class Masker {
  /** false when nothing could ever be masked: callers skip decoding and rebuilding entirely */
  readonly active: boolean;
  private readonly hasContentDetection: boolean;
  private readonly secretDetectors: readonly SecretDetector[];
  /** The secret detectors findSpansStream runs line by line: all but private-key, which it runs over the whole text. */
  private readonly lineSecretDetectors: readonly SecretDetector[];
  /** PLAIN_DETECTOR_BITS of the enabled detectors */
  private readonly plainDetectors: number;
  private readonly detectsCards: boolean;
  private readonly columnForms = new Map<string, string>();
  private readonly scratch = new SpanList();
  /** findSpansStream's scratch space: the lines of the text and their features, the runs of lines with secret keywords */
  private readonly lineStarts: number[] = [];
  private readonly lineEnds: number[] = [];
  private readonly lineFeatures: number[] = [];
  private readonly runStarts: number[] = [];
  private readonly runTexts: string[] = [];

  constructor(
    readonly detectors: readonly DetectorName[],
    private readonly columnRules: readonly ColumnRulePlan[],
    private readonly custom: readonly CustomDetectorPlan[],
  ) {
    const enabled = new Set<string>(detectors);
    this.secretDetectors = SECRET_DETECTORS.filter((d) => enabled.has(d.name));
    this.lineSecretDetectors = this.secretDetectors[0]?.name === 'private-key' ? this.secretDetectors.slice(1) : this.secretDetectors;
    this.plainDetectors = detectors.reduce((bits, name) => bits | (PLAIN_DETECTOR_BITS[name] ?? 0), 0);
    this.detectsCards = enabled.has('payment-card');
    this.hasContentDetection = detectors.length > 0 || custom.length > 0;
    this.active = this.hasContentDetection || columnRules.length > 0;
    for (const rule of columnRules) this.columnForms.set(rule.label, columnForm(rule.label));
  }

  /** Whether any column rule applies to this target: only then do result columns need their sources worked out. */
  get hasColumnRules(): boolean {
    return this.columnRules.length > 0;
  }

  /** The label of this target's first column rule: what a value that could come from any column is masked as. */
  get firstColumnLabel(): string | undefined {
    return this.columnRules[0]?.label;
  }

  /** The label of the first column rule for this target whose globs match the name (case-insensitive). */
  columnRule(columnName: string): string | undefined {
    if (this.columnRules.length === 0) return undefined;
    const name = columnName.toLowerCase();
    for (const rule of this.columnRules) if (rule.columns.test(name)) return rule.label;
    return undefined;
  }

  /**
   * One result cell. With a column label the whole non-empty value becomes `[label]`; otherwise the
   * content detectors run. Returns the very same string when nothing matched. `screened`: what
   * screenBytes said of the cell's bytes, so its features pass is not run twice. `labels`, when
   * given, receives the rule or detectors that changed the cell (for the recorded sample's marks).
   */
  maskCell(text: string, columnLabel: string | undefined, report: MaskReportBuilder, screened = -1, labels?: string[]): string {
    if (columnLabel !== undefined) {
      if (text.length === 0) return text;
      report.add(columnLabel, 1);
      labels?.push(columnLabel);
      return this.columnForms.get(columnLabel) ?? columnForm(columnLabel);
    }
    const spans = this.scratch;
    if (!this.findSpans(text, spans, screened)) return text;
    if (spans.length === 1) {
      report.add(spans.at(0).detector, 1);
      labels?.push(spans.at(0).detector);
    } else {
      const names = distinctDetectors(spans);
      report.addCell(names);
      labels?.push(...names);
    }
    return spans.render(text);
  }

  /**
   * Screens a cell given as UTF-8 bytes (no column label) before it is decoded: NOTHING_TO_MASK
   * when maskCell would certainly return it unchanged, so the caller need not decode it at all;
   * otherwise what to hand maskCell as `screened` (the text's features, read from the bytes, or -1
   * when they could not be). Decided by the same features pass and gates as findSpans; custom
   * detectors, a secret hint and non-ASCII text always go on to maskCell; a cell that is exactly an
   * ISO date or timestamp (isIsoDateTimeAscii) or a UUID (isUuidAscii) does not, nor one of digits
   * only too short for a card, nor one that only the IBAN gate lets through and that has no
   * country code followed by two digits.
   */
  screenBytes(bytes: Uint8Array, start: number, end: number): number {
    if (!this.hasContentDetection || end <= start) return NOTHING_TO_MASK;
    if (this.custom.length > 0) return -1;
    const features = textFeaturesAscii(bytes, start, end);
    if (features < 0) return -1;
    if (this.secretDetectors.length > 0 && (features & SECRET_HINT) !== 0) return features;
    const hasAt = (features & HAS_AT) !== 0;
    if (this.plainDetectors !== 0 && plainSpansPossible(end - start, features, this.plainDetectors, hasAt)) {
      if (isIsoDateTimeAscii(bytes, start, end) || isUuidAscii(bytes, start, end)) return NOTHING_TO_MASK;
      // Digits alone (ids, counts) can only be a card number: every other plain detector needs a
      // letter, an @, a + or a separator. Ids are in nearly every table.
      if (allDigitsAscii(bytes, start, end)) return this.detectsCards && cardRunTier(features) === RUN_13 ? withoutPhoneRun(features) : NOTHING_TO_MASK;
      // The IBAN gate is loose (two letters and two digits at the start of a word, as in a quarter
      // of UUIDs): when it alone lets the cell through, look for a country code first.
      if (!plainSpansPossible(end - start, features, this.plainDetectors & ~IBAN_BIT, hasAt) && !mayHoldIbanAscii(bytes, start, end)) return NOTHING_TO_MASK;
      return features;
    }
    return NOTHING_TO_MASK;
  }

  /** Free text (a notice, a COPY row, a body): every match counts. Returns the same string when nothing matched. */
  maskText(text: string, report: MaskReportBuilder): string {
    const spans = this.scratch;
    if (!this.findSpans(text, spans)) return text;
    for (let i = 0; i < spans.length; i++) report.add(spans.at(i).detector, 1);
    return spans.render(text);
  }

  /** Whether a built-in detector runs. */
  detects(name: DetectorName): boolean {
    return this.detectors.includes(name);
  }

  /**
   * Fills `spans` with what to replace in `text`; false when there is nothing. The building block
   * of maskCell and maskText (the stream masker uses findSpansStream, which finds the same spans).
   */
  findSpans(text: string, spans: SpanList, screened = -1): boolean {
    spans.clear();
    if (!this.hasContentDetection || text.length === 0) return false;
    for (const custom of this.custom) scanWith(custom.regex, text, spans, custom.name, custom.replacement);
    // screenBytes passes over UUIDs; text that comes here unscreened (COPY rows, parameters, bodies) is checked here
    if (screened < 0 && isUuid(text)) return spans.length > 0;
    const features = screened >= 0 ? screened & ~HAS_AT : textFeatures(text);
    if (this.secretDetectors.length > 0 && (features & SECRET_HINT) !== 0 && mayHoldSecret(text)) {
      for (const detector of this.secretDetectors) if (detector.trigger.test(text)) detector.find(text, spans);
    }
    if (this.plainDetectors !== 0 && spans.covered < text.length) findPlainSpans(text, spans, features, this.plainDetectors);
    return spans.length > 0;
  }

  /**
   * findSpans for a large text such as a chunk of SSH output, with the same result, with each
   * detector gated line by line. On a whole 32 KiB chunk the gates of findSpans are all open (one
   * timestamp opens the phone gate, one `_` the secret hint) and every detector would scan all of
   * it. Here the text's lines (split at `\n`) get their features first; then, in findSpans' order,
   * each detector scans only the runs of consecutive lines its gate lets through, each run in one
   * call (its positions offset by SpanList.base). That is findSpans with lines skipped where the
   * detector cannot match: no built-in match spans a line break but a private-key block, which,
   * like custom detectors, is looked for over the whole text.
   */
  findSpansStream(text: string, spans: SpanList): boolean {
    spans.clear();
    if (!this.hasContentDetection || text.length === 0) return false;
    for (const custom of this.custom) scanWith(custom.regex, text, spans, custom.name, custom.replacement);
    if (isUuid(text)) return spans.length > 0;
    const length = text.length;
    const starts = this.lineStarts;
    const ends = this.lineEnds;
    const features = this.lineFeatures;
    let lines = 0;
    for (let start = 0; start < length; ) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = length;
      // no detector matches fewer characters
      if (end - start >= SECRET_MIN_LENGTH) {
        starts[lines] = start;
        ends[lines] = end;
        features[lines++] = textFeaturesRange(text, start, end);
      }
      start = end + 1;
    }
    const lineSecrets = this.lineSecretDetectors;
    if (lineSecrets !== this.secretDetectors && text.indexOf('-----BEGIN') >= 0) (this.secretDetectors[0] as SecretDetector).find(text, spans);
    if (lineSecrets.length > 0) {
      // the runs of lines with a secret hint, and of those the ones with a keyword
      const runStarts = this.runStarts;
      const runTexts = this.runTexts;
      let runs = 0;
      for (let i = 0; i < lines; i++) {
        if (((features[i] as number) & SECRET_HINT) === 0) continue;
        let j = i;
        while (j + 1 < lines && ((features[j + 1] as number) & SECRET_HINT) !== 0) j++;
        const run = text.slice(starts[i], ends[j]);
        if (SECRET_KEYWORD_ANY_CASE.test(run)) {
          runStarts[runs] = starts[i] as number;
          runTexts[runs++] = run;
        }
        i = j;
      }
      for (const detector of lineSecrets) {
        for (let r = 0; r < runs; r++) {
          const run = runTexts[r] as string;
          if (!detector.trigger.test(run)) continue;
          spans.base = runStarts[r] as number;
          detector.find(run, spans);
          spans.base = 0;
        }
      }
      runTexts.fill('', 0, runs);
    }
    if (this.plainDetectors !== 0) {
      if ((this.plainDetectors & 1) !== 0) findEmailSpans(text, spans);
      for (const plain of PLAIN_SCANS) {
        if ((this.plainDetectors & plain.bit) === 0) continue;
        for (let i = 0; i < lines; i++) {
          if (!plain.open(features[i] as number, (ends[i] as number) - (starts[i] as number))) continue;
          let j = i;
          while (j + 1 < lines && plain.open(features[j + 1] as number, (ends[j + 1] as number) - (starts[j + 1] as number))) j++;
          spans.base = starts[i] as number;
          plain.scan(text.slice(starts[i], ends[j]), spans);
          spans.base = 0;
          i = j;
        }
      }
    }
    return spans.length > 0;
  }
}

/**
 * Every secret detector's keyword in any casing (so more than SECRET_TRIGGER finds, never less),
 * cheaper for the regex engine than SECRET_TRIGGER's spelled-out casings: findSpansStream tests it
 * on each run of lines with a secret hint before the detectors' own triggers.
 */
const SECRET_KEYWORD_ANY_CASE = /k(?:ey|ia|_live_)|sk-|token|secret|pass|pwd|bearer|authorization|aiza|asia|-----begin|eyj|:\/\/|gh[pousr]_|github_pat_|glpat-|xox[abpr]-|npm_/i;
const IBAN_BIT = PLAIN_DETECTOR_BITS.iban as number;

/** screenBytes: nothing in the cell can be masked. */
export const NOTHING_TO_MASK = -2;

function distinctDetectors(spans: SpanList): string[] {
  const names: string[] = [];
  for (let i = 0; i < spans.length; i++) {
    const name = spans.at(i).detector;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * Compiles the masking section of a policy for one target: which built-in detectors run (all when
 * `detectors` is omitted), the column rules whose `targets` globs match the target, and the custom
 * regexes. Compile once per (policy, target) and reuse.
 */
export function compileMasking(masking: MaskingPolicy, target: string): Masker {
  const detectors = masking.detectors ?? DETECTORS;
  const columnRules: ColumnRulePlan[] = [];
  for (const rule of masking.columns ?? []) {
    if (rule.targets !== undefined && !GlobMatcher.compile(rule.targets).test(target)) continue;
    const globs = typeof rule.columns === 'string' ? [rule.columns] : rule.columns;
    columnRules.push({ columns: GlobMatcher.compile(globs.map((g) => g.toLowerCase())), label: rule.label ?? 'REDACTED' });
  }
  const custom = (masking.custom ?? []).map((c) => ({ name: c.name, regex: new RegExp(c.regex, 'g'), replacement: customForm(c.name, c.label) }));
  return new Masker([...detectors], columnRules, custom);
}
