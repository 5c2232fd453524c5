import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

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
 * Encrypts into the format above, piece by piece: `update` and `final` append the encrypted output to `out`
 * (header first). The plaintext is not copied: pieces are held by reference until a whole chunk is known not to
 * be the last (more bytes arrived), then sealed straight from them. `context` names the file (messageId/fileId)
 * and must be given again to read it.
 */
export class Sealer {
  private readonly header: Buffer;
  private readonly key: KeyObject;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);
  private held: Buffer[] = [];
  private heldBytes = 0;
  private counter = 0;
  private headerPending = true;

  constructor(master: Buffer, context: string) {
    const salt = randomBytes(SALT_BYTES);
    const prefix = randomBytes(PREFIX_BYTES);
    this.header = Buffer.concat([Buffer.of(FORMAT_VERSION), salt, prefix]);
    prefix.copy(this.nonce, 0);
    this.key = fileKey(master, salt, context);
  }

  update(input: Buffer, out: Buffer[]): void {
    if (!input.length) return;
    this.held.push(input);
    this.heldBytes += input.length;
    // A whole chunk with at least one byte after it is not the last.
    while (this.heldBytes > CHUNK_BYTES) this.seal(CHUNK_BYTES, false, out);
  }

  final(out: Buffer[]): void {
    this.seal(this.heldBytes, true, out);
  }

  /** Seals the first `n` held bytes as one segment. */
  private seal(n: number, last: boolean, out: Buffer[]): void {
    if (this.counter === MAX_SEGMENTS) throw new Error('file too large for one encrypted stream');
    const c = createCipheriv('aes-256-gcm', this.key, setNonce(this.nonce, this.counter, last));
    c.setAAD(this.header);
    if (this.headerPending) {
      out.push(this.header);
      this.headerPending = false;
    }
    let left = n;
    while (left > 0) {
      const piece = this.held[0]!;
      if (piece.length <= left) {
        this.held.shift();
        out.push(c.update(piece));
        left -= piece.length;
      } else {
        out.push(c.update(piece.subarray(0, left)));
        this.held[0] = piece.subarray(left);
        left = 0;
      }
    }
    this.heldBytes -= n;
    c.final();
    out.push(c.getAuthTag());
    this.counter++;
  }
}

/**
 * Decrypts the format above, segment by segment: `begin` takes the header, `open` one whole segment (ciphertext
 * and tag) and returns its plaintext only once it authenticates. The caller says which segment is the last.
 */
export class Opener {
  private header: Buffer | null = null;
  private key: KeyObject | null = null;
  private readonly nonce = Buffer.alloc(NONCE_BYTES);
  private counter = 0;

  constructor(
    private readonly master: Buffer,
    private readonly context: string,
  ) {}

  /** Takes the header (copied: the caller may reuse its buffer) and derives the file's key. */
  begin(header: Buffer): void {
    if (header[0] !== FORMAT_VERSION) {
      throw new FileIntegrityError(`unknown encrypted file format version ${header[0]}`);
    }
    this.header = Buffer.from(header.subarray(0, HEADER_BYTES));
    this.header.copy(this.nonce, 0, 1 + SALT_BYTES);
    this.key = fileKey(this.master, this.header.subarray(1, 1 + SALT_BYTES), this.context);
  }

  open(segment: Buffer, last: boolean): Buffer {
    const i = this.counter;
    if (segment.length < TAG_BYTES) {
      throw new FileIntegrityError(`the encrypted file is truncated in segment ${i}`);
    }
    if (!this.key || !this.header) throw new Error('header not read');
    const d = createDecipheriv('aes-256-gcm', this.key, setNonce(this.nonce, i, last));
    d.setAAD(this.header);
    d.setAuthTag(segment.subarray(segment.length - TAG_BYTES));
    const plain = d.update(segment.subarray(0, segment.length - TAG_BYTES));
    try {
      d.final();
    } catch {
      throw new FileIntegrityError(
        `segment ${i} of the encrypted file does not authenticate${last ? ' as the last one' : ''}: the file is damaged, truncated or reordered`,
      );
    }
    this.counter++;
    return plain;
  }
}

/** Bytes on disk for `size` bytes of plaintext. */
export function encryptedSize(size: number): number {
  const segments = Math.max(1, Math.ceil(size / CHUNK_BYTES));
  return HEADER_BYTES + size + segments * TAG_BYTES;
}
