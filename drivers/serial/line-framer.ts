/**
 * Splits a serial byte stream into lines (docs/reference/wire-formats.md: framing): a frame ends at `\n`, a `\r` before it is
 * dropped. A frame longer than the limit is reported once as too large, the rest of it is
 * discarded, and framing resumes at the next newline, so an endless line costs bounded memory
 * and loses nothing after it. Pure: bytes in, frames out.
 */
export const MAX_FRAME_BYTES = 4096;
/** How much of an oversized frame is kept for quarantine. */
const OVERSIZE_SAMPLE_BYTES = 256;

export type Frame = { kind: 'line'; bytes: Buffer } | { kind: 'too_large'; sample: Buffer };

export class LineFramer {
  private parts: Buffer[] = [];
  private size = 0;
  /** Inside an oversized frame: drop bytes up to the next newline. */
  private discarding = false;

  constructor(private readonly maxBytes = MAX_FRAME_BYTES) {}

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.discarding) this.append(chunk.subarray(start, end), frames);
      if (nl === -1) break;
      if (this.discarding) this.discarding = false;
      else frames.push(this.finish());
      start = nl + 1;
    }
    return frames;
  }

  /** Forget a partial frame (the port was closed; what follows belongs to a new stream). */
  reset(): void {
    this.parts = [];
    this.size = 0;
    this.discarding = false;
  }

  private append(bytes: Buffer, frames: Frame[]): void {
    if (bytes.length === 0) return;
    this.parts.push(bytes);
    this.size += bytes.length;
    // One byte of slack for the `\r` of a CRLF line that is exactly at the limit.
    if (this.size > this.maxBytes + 1) {
      const sample = Buffer.concat(this.parts, this.size).subarray(0, OVERSIZE_SAMPLE_BYTES);
      this.reset();
      this.discarding = true;
      frames.push({ kind: 'too_large', sample });
    }
  }

  private finish(): Frame {
    // A copy (concat copies too): the chunks are slices of the stream's read pool.
    let line = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    if (line.length > this.maxBytes) return { kind: 'too_large', sample: line.subarray(0, OVERSIZE_SAMPLE_BYTES) };
    return { kind: 'line', bytes: line };
  }
}
