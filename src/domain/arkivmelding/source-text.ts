import type { ProblemItem } from '../errors.js';

/** The decoded document, with offsets turned into 1-based line and column only when a problem needs them. */
export class SourceText {
  private lineStarts: number[] | null = null;

  constructor(readonly text: string) {}

  /** A problem at an element, located by its source offset. */
  problem(code: string, message: string, path: string, pos: number, rejectedValue?: string): ProblemItem {
    return {
      path,
      ...this.locate(pos),
      code,
      message,
      ...(rejectedValue === undefined ? {} : { rejectedValue }),
    };
  }

  locate(pos: number): { line: number; column: number } {
    const starts = this.lineStarts ?? this.indexLines();
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= pos) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: pos - (starts[lo] ?? 0) + 1 };
  }

  private indexLines(): number[] {
    const t = this.text;
    const starts = [0];
    if (t.indexOf('\r') === -1) {
      for (let i = t.indexOf('\n'); i !== -1; i = t.indexOf('\n', i + 1)) starts.push(i + 1);
    } else {
      // XML treats CRLF and a lone CR as one line break, like LF.
      for (let i = 0; i < t.length; i++) {
        const c = t.charCodeAt(i);
        if (c === 0x0a) starts.push(i + 1);
        else if (c === 0x0d && t.charCodeAt(i + 1) !== 0x0a) starts.push(i + 1);
      }
    }
    this.lineStarts = starts;
    return starts;
  }
}
