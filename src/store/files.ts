import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { finished, PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GCM } from './crypto.js';

export class SizeLimitError extends Error {
  constructor(
    readonly limit: number,
    readonly seen: number,
  ) {
    super(`size limit ${limit} bytes exceeded`);
  }
}

export interface WrittenFile {
  fileId: string;
  size: number;
  /** The plaintext, only when asked for (arkivmelding.xml, bounded). */
  plaintext?: Buffer;
}

/**
 * Attachments live encrypted on disk (AES-256-GCM: iv | ciphertext | tag), one folder per message.
 * Uploads are streamed; a failed upload leaves nothing behind.
 */
export class FileStore {
  constructor(
    private readonly dir: string,
    private readonly key: Buffer,
  ) {}

  private messageDir(messageId: string): string {
    return join(this.dir, 'out', messageId);
  }

  private path(messageId: string, fileId: string): string {
    return join(this.messageDir(messageId), `${fileId}.bin`);
  }

  async write(
    messageId: string,
    source: Readable,
    opts: { maxBytes: number; keepPlaintext?: boolean; plaintextLimit?: number },
  ): Promise<WrittenFile> {
    await mkdir(this.messageDir(messageId), { recursive: true, mode: 0o700 });
    const fileId = randomUUID();
    const final = this.path(messageId, fileId);
    const partial = `${final}.part`;
    const iv = randomBytes(GCM.IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const chunks: Buffer[] = [];
    let size = 0;
    const keepLimit = opts.plaintextLimit ?? opts.maxBytes;
    const limiter = new Transform({
      transform(chunk: Buffer, _enc, cb: TransformCallback) {
        size += chunk.length;
        if (size > opts.maxBytes) return cb(new SizeLimitError(opts.maxBytes, size));
        if (opts.keepPlaintext) {
          if (size > keepLimit) return cb(new SizeLimitError(keepLimit, size));
          chunks.push(chunk);
        }
        cb(null, chunk);
      },
    });
    const out = createWriteStream(partial, { mode: 0o600 });
    out.write(iv);
    // The GCM tag is known once the cipher has flushed; it goes last in the same stream.
    const appendTag = new Transform({
      transform(chunk, _enc, cb) {
        cb(null, chunk);
      },
      flush(cb) {
        cb(null, cipher.getAuthTag());
      },
    });
    // A pass-through between request and pipeline, so a refused upload does not destroy the socket.
    const pass = new PassThrough();
    source.pipe(pass);
    // pipe() does not pass on a source that fails or is destroyed early (a truncated multipart body):
    // without this the pipeline would wait for the rest forever.
    // (A stream destroyed after its last chunk was queued reports no error, but never ends either.)
    const stopWatching = finished(source, (err) => {
      if (err || !source.readableEnded)
        pass.destroy(err ?? new Error('The upload ended before its last byte'));
    });
    try {
      await pipeline(pass, limiter, cipher, appendTag, out);
      await rename(partial, final);
    } catch (err) {
      source.unpipe(pass);
      source.resume();
      await rm(partial, { force: true });
      throw err;
    } finally {
      stopWatching();
    }
    return { fileId, size, ...(opts.keepPlaintext ? { plaintext: Buffer.concat(chunks) } : {}) };
  }

  /** A decrypting stream; the tag is checked when the stream ends. */
  async openRead(messageId: string, fileId: string): Promise<Readable> {
    const p = this.path(messageId, fileId);
    const { size } = await stat(p);
    const fh = await open(p, 'r');
    const head = Buffer.alloc(GCM.IV_BYTES);
    const tag = Buffer.alloc(GCM.TAG_BYTES);
    try {
      await fh.read(head, 0, GCM.IV_BYTES, 0);
      await fh.read(tag, 0, GCM.TAG_BYTES, size - GCM.TAG_BYTES);
    } finally {
      await fh.close();
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, head);
    decipher.setAuthTag(tag);
    const body = size - GCM.IV_BYTES - GCM.TAG_BYTES;
    if (body === 0) {
      const empty = new PassThrough();
      empty.end();
      return empty.pipe(decipher);
    }
    return createReadStream(p, { start: GCM.IV_BYTES, end: GCM.IV_BYTES + body - 1 }).pipe(decipher);
  }

  async readAll(messageId: string, fileId: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await this.openRead(messageId, fileId)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async deleteFile(messageId: string, fileId: string): Promise<void> {
    await rm(this.path(messageId, fileId), { force: true });
  }

  async deleteMessage(messageId: string): Promise<void> {
    await rm(this.messageDir(messageId), { recursive: true, force: true });
  }
}
