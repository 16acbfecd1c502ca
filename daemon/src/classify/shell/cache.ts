import { ClassificationCache } from '../text-cache.js';
import type { ShellClassification } from './types.js';

/** Shell classifications by exact text (see ClassificationCache). */
export class ShellClassifierCache extends ClassificationCache<ShellClassification> {
  constructor(classifyText: (text: string) => ShellClassification, maxEntries = 5000, maxTextLength = 16_384, maxTotalChars = 8 * 1024 * 1024) {
    super(classifyText, maxEntries, maxTextLength, maxTotalChars);
  }
}
