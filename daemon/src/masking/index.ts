export { MaskReportBuilder, mergeMaskReports } from './report.js';
export { Masker, NOTHING_TO_MASK, compileMasking, columnForm, customForm } from './masker.js';
export { StreamMasker } from './stream.js';
export type { StreamMaskerOptions } from './stream.js';
export { MASK_FORMS, MAX_MATCH_LENGTH } from './detectors.js';
