/**
 * Reader of exact byte counts from an async stream of chunks, for the
 * streaming transfer syntax converter in transcode.ts.
 */
import { DicomParseError } from './parser';

export class ChunkReader {
  /** Bytes consumed since the start of the stream. */
  position = 0;

  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private readonly iterator: AsyncIterator<Buffer | string>;

  constructor(source: AsyncIterable<Buffer | string>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Buffers until `count` bytes are available or the stream ends, and returns how many are available (at most `count`). */
  async fill(count: number): Promise<number> {
    while (this.buffered < count && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value, 'latin1');
      if (chunk.length === 0) continue;
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return Math.min(this.buffered, count);
  }

  /** Returns the next `count` bytes without consuming them, or undefined when the stream ends first. */
  async peek(count: number): Promise<Buffer | undefined> {
    if ((await this.fill(count)) < count) return undefined;
    const first = this.chunks[0];
    if (first.length >= count) return first.subarray(0, count);
    return Buffer.concat(this.chunks).subarray(0, count);
  }

  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }

  /**
   * Returns the next `count` bytes. The result may share memory with the
   * source chunks, so copy it before changing it. Throws a truncated
   * DicomParseError, which names the bytes by `description`, when the stream ends first.
   */
  async read(count: number, description: string): Promise<Buffer> {
    const available = await this.fill(count);
    if (available < count) {
      throw new DicomParseError(`${description} needs ${count} bytes but only ${available} remain`, this.position, true);
    }
    return this.take(count);
  }

  private take(count: number): Buffer {
    if (count === 0) return Buffer.alloc(0);
    this.buffered -= count;
    this.position += count;

    const first = this.chunks[0];
    if (first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }

    const result = Buffer.allocUnsafe(count);
    let copied = 0;
    while (copied < count) {
      const chunk = this.chunks[0];
      const size = Math.min(chunk.length, count - copied);
      chunk.copy(result, copied, 0, size);
      copied += size;
      if (size === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(size);
    }
    return result;
  }
}
