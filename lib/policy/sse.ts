/**
 * Server-sent events, as far as list filtering needs them (framework-free): split a byte stream into
 * whole events (blocks ending with an empty line, any of `\n`, `\r\n`, `\r` as line ends, as the
 * HTML SSE grammar allows) and rewrite the `data` of one event. Bytes of events that are not
 * rewritten are passed on exactly as they came.
 */

const LF = 0x0a;
const CR = 0x0d;
const NEWLINE = Buffer.from('\n');
const EMPTY = Buffer.alloc(0);

/** Accumulates bytes and hands out complete events. */
export class SseSplitter {
  /**
   * The held bytes are `store[0, len)`. Bytes are appended in place into spare capacity, which
   * grows geometrically, so an event arriving in many small writes costs linear time (a
   * concatenation per write would copy the held bytes again each time). A store that events were
   * handed out from is never written again: what follows them is kept as a view with no spare
   * capacity, so the next append moves it to a new store.
   */
  private store: Buffer = EMPTY;
  private len = 0;
  private scanFrom = 0;
  private lineStart = 0;

  /** Bytes held that do not yet form a complete event. */
  get pendingBytes(): number {
    return this.len;
  }

  /** Add bytes; return every event completed by them (each including its terminating empty line). */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    // Nothing held: the chunk is scanned in place, and what is left of it copied below.
    const borrowed = this.len === 0;
    if (borrowed) {
      this.store = chunk;
      this.len = chunk.length;
    } else {
      const need = this.len + chunk.length;
      if (need > this.store.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, this.store.length * 2));
        this.store.copy(grown, 0, 0, this.len);
        this.store = grown;
      }
      chunk.copy(this.store, this.len);
      this.len = need;
    }
    const events = this.scan(false);
    // Held past this call: the caller may reuse its chunk once its write is acknowledged.
    if (borrowed && this.len > 0) this.store = Buffer.from(this.store.subarray(0, this.len));
    return events;
  }

  /**
   * The stream has ended: return the events completed by a trailing CR that was held back (it
   * could have been the first half of a CR LF; at the end it is a line end, as the grammar says).
   * What is left after them is an incomplete event, for {@link drain}.
   */
  flush(): Buffer[] {
    return this.len === 0 ? [] : this.scan(true);
  }

  private scan(final: boolean): Buffer[] {
    const out: Buffer[] = [];
    const buf = this.store.subarray(0, this.len);
    let start = 0;
    let lineStart = this.lineStart;
    let j = this.scanFrom;
    while (j < buf.length) {
      const c = buf[j]!;
      if (c !== LF && c !== CR) { j++; continue; }
      if (c === CR && j + 1 === buf.length && !final) break; // a CR LF may be split across chunks: wait
      const end = j + (c === CR && buf[j + 1] === LF ? 2 : 1);
      if (j === lineStart) {
        out.push(buf.subarray(start, end));
        start = end;
      }
      lineStart = end;
      j = end;
    }
    if (start > 0) {
      // Events were handed out of this store: keep the rest as a view (no spare capacity).
      this.store = start === buf.length ? EMPTY : buf.subarray(start);
      this.len = buf.length - start;
    }
    this.scanFrom = j - start;
    this.lineStart = lineStart - start;
    return out;
  }

  /** Take whatever is held (an incomplete last event) and reset. */
  drain(): Buffer {
    const rest = this.store.subarray(0, this.len);
    this.store = EMPTY;
    this.len = 0;
    this.scanFrom = 0;
    this.lineStart = 0;
    return rest;
  }
}

/**
 * Finds where an event ends (its empty line) in bytes fed to it piece by piece, holding nothing:
 * for letting an event too large to hold pass through while the events after it are still split.
 * Starts at the beginning of an event. A line ends at LF, CR or CR LF; when a CR ends the event,
 * an LF right after it is left for the splitter (an empty block, which carries nothing).
 */
export class EventEnd {
  private atLineStart = true;
  private afterCR = false;

  /** The index just past the end of the event in `bytes`, or -1 when it does not end there. */
  feed(bytes: Buffer): number {
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      if (c === LF && this.afterCR) { this.afterCR = false; continue; }
      this.afterCR = false;
      if (c === LF || c === CR) {
        if (this.atLineStart) return i + 1;
        this.atLineStart = true;
        this.afterCR = c === CR;
      } else {
        this.atLineStart = false;
      }
    }
    return -1;
  }
}

/**
 * Of an incomplete event a stream ended in the middle of, what still takes effect: its complete
 * `retry` lines. A client never dispatches the event (its `data` is dropped), but applies a `retry`
 * field as soon as its line is read (the SSE grammar; the MCP SDK's reconnection delay). A last
 * line without its line end is discarded, as a client discards it.
 */
export function retryLines(incomplete: Buffer): Buffer {
  const kept: Buffer[] = [];
  let start = 0;
  for (let j = 0; j < incomplete.length; j++) {
    const c = incomplete[j]!;
    if (c !== LF && c !== CR) continue;
    const line = incomplete.subarray(start, j);
    if (line.length >= 5 && line.toString('latin1', 0, 5) === 'retry' && (line.length === 5 || line[5] === 0x3a)) kept.push(line, NEWLINE);
    if (c === CR && incomplete[j + 1] === LF) j++;
    start = j + 1;
  }
  return kept.length === 0 ? EMPTY : Buffer.concat(kept);
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * An event's text; for the stream's first event without a leading byte order mark (clients drop it
 * there, and only there: on a later event it spoils the first line for them too).
 */
function text(block: Buffer, first: boolean): string {
  const s = decoder.decode(block);
  return first && s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/**
 * The `data` of one event (its `data` lines joined with `\n`, a single leading space of each value
 * removed), or `undefined` when the event has no `data` field. `first`: the stream's first event.
 * @throws {TypeError} when the event is not valid UTF-8.
 */
export function eventData(block: Buffer, first = false): string | undefined {
  let data: string | undefined;
  for (const line of text(block, first).split(/\r\n|\r|\n/)) {
    if (line !== 'data' && !line.startsWith('data:')) continue;
    let value = line.slice(5);
    if (value.startsWith(' ')) value = value.slice(1);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

/**
 * The event with its `data` replaced by `data` (which must hold no line break, as JSON text does not):
 * other fields (`event`, `id`, `retry`, comments) are kept in order, lines end with `\n`.
 */
export function withEventData(block: Buffer, data: string, first = false): Buffer {
  const lines: string[] = [];
  let placed = false;
  for (const line of text(block, first).split(/\r\n|\r|\n/)) {
    if (line === '') continue;
    if (line === 'data' || line.startsWith('data:')) {
      if (!placed) lines.push(`data: ${data}`);
      placed = true;
      continue;
    }
    lines.push(line);
  }
  if (!placed) lines.push(`data: ${data}`);
  return Buffer.from(`${lines.join('\n')}\n\n`, 'utf8');
}
