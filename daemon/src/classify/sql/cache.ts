import { ClassificationCache } from '../text-cache.js';
import { classifySql } from './classify.js';
import type { SqlClassification } from './types.js';

/** SQL classifications by exact text (see ClassificationCache). */
export class SqlClassifierCache extends ClassificationCache<SqlClassification> {
  constructor(maxEntries = 5000, maxTextLength = 100_000, maxTotalChars = 32 * 1024 * 1024) {
    super(classifySql, maxEntries, maxTextLength, maxTotalChars);
  }
}
