import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * How attachments are encrypted on disk: the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár,
 * "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015) over AES-256-GCM,
 * so a reader releases each 64 KiB only once that chunk, and its place in the file, is authenticated.
 *
 *   file    = header | segment 0 | segment 1 | … | segment n-1
 *   header  = version (1 byte, 0x02) | salt (16 random bytes) | nonce prefix (7 random bytes)     24 bytes
 *   segment = AES-256-GCM(key, nonce i, aad = header, chunk i) | GCM tag (16 bytes)
 *   nonce i = nonce prefix (7) | i as uint32 big-endian (4) | 0x01 for the last segment, else 0x00 (1)
 *   key     = HKDF-SHA256(file key, salt, "eip/file/v2|<messageId>|<fileId>")
 *
 * Every chunk holds exactly 64 KiB of plaintext except the last, which holds 0 to 64 KiB (an empty file is
 * one empty last segment). The counter in the nonce catches reordered, dropped and repeated segments; the
 * last-segment flag catches truncation, at a segment boundary too, and bytes appended after the end; the
 * header is bound by the AAD; the per-file key binds the file to its message and file id, so a file moved
 * or copied to another name does not open. Version 1 (one GCM stream, tag at the end) is not read.
 */
export const FORMAT_VERSION = 0x02;
const SALT_BYTES = 16;
const PREFIX_BYTES = 7;
export const HEADER_BYTES = 1 + SALT_BYTES + PREFIX_BYTES;
export const CHUNK_BYTES = 64 * 1024;
export const TAG_BYTES = 16;
export const SEGMENT_BYTES = CHUNK_BYTES + TAG_BYTES;
const NONCE_BYTES = 12;
const MAX_SEGMENTS = 0xffff_ffff;

/** The stored file does not authenticate: damaged, truncated, reordered, or not the file asked for. */
export class FileIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileIntegrityError';
  }
}

function fileKey(master: Buffer, salt: Buffer, context: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', master, salt, `eip/file/v2|${context}`, 32)));
}

/** Sets the counter and last-segment flag in the nonce buffer (reused: createCipheriv copies it). */
function setNonce(nonce: Buffer, counter: number, last: boolean): Buffer {
  nonce.writeUInt32BE(counter, PREFIX_BYTES);
  nonce[NONCE_BYTES - 1] = last ? 1 : 0;
  return nonce;
}

/**
 * Encrypts a byte stream into the format above. `context` names the file (messageId/fileId) and must be
 * given again to read it. The current chunk is held back until more bytes arrive or the input ends, since
 * only then is it known whether it is the last.
 */
export class SealStream extends Transform {
  private readonly header: Buffer;
  private readonly key: KeyObject;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);
  private readonly chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private fill = 0;
  private counter = 0;
  /** The header goes out with the first segment: one write to the file instead of two. */
  private headerPending = true;

  constructor(master: Buffer, context: string) {
    super();
    const salt = randomBytes(SALT_BYTES);
    const prefix = randomBytes(PREFIX_BYTES);
    this.header = Buffer.concat([Buffer.of(FORMAT_VERSION), salt, prefix]);
    prefix.copy(this.nonce, 0);
    this.key = fileKey(master, salt, context);
  }

  override _transform(input: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      let off = 0;
      while (off < input.length) {
        // More bytes follow, so a full chunk held back is not the last.
        if (this.fill === CHUNK_BYTES) {
          this.seal(this.chunk, false);
          this.fill = 0;
        }
        if (this.fill === 0 && input.length - off > CHUNK_BYTES) {
          // A whole chunk with more after it, straight from the input: no copy.
          this.seal(input.subarray(off, off + CHUNK_BYTES), false);
          off += CHUNK_BYTES;
          continue;
        }
        const n = Math.min(CHUNK_BYTES - this.fill, input.length - off);
        input.copy(this.chunk, this.fill, off, off + n);
        this.fill += n;
        off += n;
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.seal(this.chunk.subarray(0, this.fill), true);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  private seal(plain: Buffer, last: boolean): void {
    if (this.counter === MAX_SEGMENTS) throw new Error('file too large for one encrypted stream');
    const c = createCipheriv('aes-256-gcm', this.key, setNonce(this.nonce, this.counter, last));
    c.setAAD(this.header);
    const ct = c.update(plain);
    c.final();
    this.counter++;
    const tag = c.getAuthTag();
    if (!this.headerPending && ct.length === CHUNK_BYTES) {
      // A full chunk of a large file: not copied again (the file stream gathers what queues up behind a write).
      this.push(ct);
      this.push(tag);
      return;
    }
    // A small file's segments (and the first, with the header) leave as one buffer each: one write per segment.
    this.push(Buffer.concat(this.headerPending ? [this.header, ct, tag] : [ct, tag]));
    this.headerPending = false;
  }
}

/**
 * Decrypts the format above. Each segment is authenticated before any of its plaintext is pushed, and
 * a segment is opened as the last only when the input ends, so nothing unauthenticated is ever released.
 */
export class OpenStream extends Transform {
  private header: Buffer | null = null;
  private key: KeyObject | null = null;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);
  private readonly segment = Buffer.allocUnsafe(SEGMENT_BYTES);
  private fill = 0;
  private counter = 0;

  constructor(
    private readonly master: Buffer,
    private readonly context: string,
  ) {
    super();
  }

  override _transform(input: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      // Until the header is whole, readHeader takes all of the input.
      let off = this.header ? 0 : this.readHeader(input);
      while (off < input.length) {
        // More bytes follow, so a full segment held back is not the last.
        if (this.fill === SEGMENT_BYTES) this.open(false);
        const n = Math.min(SEGMENT_BYTES - this.fill, input.length - off);
        input.copy(this.segment, this.fill, off, off + n);
        this.fill += n;
        off += n;
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (!this.header)
        throw new FileIntegrityError('the encrypted file is truncated: its header is incomplete');
      this.open(true);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  /** Collects the header (in the segment buffer) and derives the key; returns how much of `input` it took. */
  private readHeader(input: Buffer): number {
    const n = Math.min(HEADER_BYTES - this.fill, input.length);
    input.copy(this.segment, this.fill, 0, n);
    this.fill += n;
    if (this.fill < HEADER_BYTES) return n;
    if (this.segment[0] !== FORMAT_VERSION) {
      throw new FileIntegrityError(`unknown encrypted file format version ${this.segment[0]}`);
    }
    const header = Buffer.from(this.segment.subarray(0, HEADER_BYTES));
    header.copy(this.nonce, 0, 1 + SALT_BYTES);
    this.key = fileKey(this.master, header.subarray(1, 1 + SALT_BYTES), this.context);
    this.header = header;
    this.fill = 0;
    return n;
  }

  private open(last: boolean): void {
    const i = this.counter;
    if (this.fill < TAG_BYTES) {
      throw new FileIntegrityError(`the encrypted file is truncated in segment ${i}`);
    }
    if (!this.key || !this.header) throw new Error('header not read');
    const d = createDecipheriv('aes-256-gcm', this.key, setNonce(this.nonce, i, last));
    d.setAAD(this.header);
    d.setAuthTag(this.segment.subarray(this.fill - TAG_BYTES, this.fill));
    const plain = d.update(this.segment.subarray(0, this.fill - TAG_BYTES));
    try {
      d.final();
    } catch {
      throw new FileIntegrityError(
        `segment ${i} of the encrypted file does not authenticate${last ? ' as the last one' : ''}: the file is damaged, truncated or reordered`,
      );
    }
    this.counter++;
    this.fill = 0;
    if (plain.length) this.push(plain);
  }
}

/** Bytes on disk for `size` bytes of plaintext. */
export function encryptedSize(size: number): number {
  const segments = Math.max(1, Math.ceil(size / CHUNK_BYTES));
  return HEADER_BYTES + size + segments * TAG_BYTES;
}
