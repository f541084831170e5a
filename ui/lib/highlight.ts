/** Text cut into plain and marked pieces, for search hits. */

export type Segment = { text: string; mark: boolean };

/** `text` cut into plain and marked pieces: a marked piece is a whole word of `words`
 * (case-insensitive, as the service matches). */
export function highlightWords(text: string, words: string[]): Segment[] {
  if (words.length === 0) return text ? [{ text, mark: false }] : [];
  const wanted = new Set(words.map((w) => w.toLowerCase()));
  const segments: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(/[\p{L}\p{N}]+/gu)) {
    if (!wanted.has(match[0].toLowerCase())) continue;
    const start = match.index ?? 0;
    if (start > last) segments.push({ text: text.slice(last, start), mark: false });
    segments.push({ text: match[0], mark: true });
    last = start + match[0].length;
  }
  if (last < text.length) segments.push({ text: text.slice(last), mark: false });
  return segments;
}

/** Each of `spans` (offsets into `text`, in UTF-16 units here) marked, overlaps merged and
 * out-of-range ends clamped. */
export function highlightSpans(text: string, spans: { start?: number; end?: number }[]): Segment[] {
  const sorted = spans
    .map((s) => ({ start: Math.max(0, s.start ?? 0), end: Math.min(text.length, s.end ?? 0) }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const segments: Segment[] = [];
  let last = 0;
  for (const span of sorted) {
    const start = Math.max(span.start, last);
    if (span.end <= start) continue;
    if (start > last) segments.push({ text: text.slice(last, start), mark: false });
    segments.push({ text: text.slice(start, span.end), mark: true });
    last = span.end;
  }
  if (last < text.length) segments.push({ text: text.slice(last), mark: false });
  return segments;
}

/** Code-point offsets (the service's) as UTF-16 offsets into `text`. */
export function utf16Offset(text: string, codePoints: number): number {
  let units = 0;
  let points = 0;
  for (const char of text) {
    if (points >= codePoints) break;
    units += char.length;
    points += 1;
  }
  return units;
}
