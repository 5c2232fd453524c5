import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FileIntegrityError, HEADER_BYTES, Opener, SEGMENT_BYTES, Sealer } from './file-format.js';

export class SizeLimitError extends Error {
  constructor(
    readonly limit: number,
    readonly seen: number,
  ) {
    super(`size limit ${limit} bytes exceeded`);
  }
}

/** The client went away before the whole body arrived. */
export class UploadAbortedError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the upload ended before the whole body arrived', options);
    this.name = 'UploadAbortedError';
  }
}

const PARTIAL_SUFFIX = '.part';
/** Sealed bytes gathered before a write: small files go to disk in one write, large ones in steps of this. */
const WRITE_BATCH_BYTES = 256 * 1024;
/** Body pieces smaller than this are joined before they are sealed (see write()). */
const COALESCE_BYTES = 16 * 1024;

/** A file already gone is what deleting it wanted. */
function ignoreGone(e: unknown): void {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
}

/** Writes every buffer, in order, with as few system calls as the kernel allows. */
async function writeAll(fh: FileHandle, buffers: Buffer[]): Promise<void> {
  let rest = buffers;
  while (rest.length) {
    const { bytesWritten } = await fh.writev(rest);
    let n = bytesWritten;
    let i = 0;
    while (i < rest.length && n >= rest[i]!.length) n -= rest[i++]!.length;
    rest = rest.slice(i);
    if (n > 0) rest[0] = rest[0]!.subarray(n);
  }
}

/** Reads exactly `length` bytes at `position` into the start of `buf`; a file that ends sooner is truncated. */
async function readFully(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) throw new FileIntegrityError('the encrypted file is truncated');
    got += bytesRead;
  }
  return got;
}

export interface WrittenFile {
  fileId: string;
  size: number;
  /** The plaintext, only when asked for (arkivmelding.xml, bounded). */
  plaintext?: Buffer;
}

/** The name a file's key is bound to: a file moved to another message or id does not open. */
const fileContext = (messageId: string, fileId: string) => `${messageId}/${fileId}`;

/**
 * Attachments live encrypted on disk (chunked AES-256-GCM, see file-format.ts), one folder per message.
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

  /** Creates the message's folder: once, when the message is created, rather than with every upload. */
  async prepare(messageId: string): Promise<void> {
    await mkdir(this.messageDir(messageId), { recursive: true, mode: 0o700 });
  }

  /** Opens a new partial file; the folder is made here only when it is missing (a message from before prepare()). */
  private async openPartial(messageId: string, partial: string): Promise<FileHandle> {
    try {
      return await open(partial, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await this.prepare(messageId);
      return open(partial, 'wx', 0o600);
    }
  }

  async write(
    messageId: string,
    source: Readable,
    opts: { maxBytes: number; keepPlaintext?: boolean; plaintextLimit?: number },
  ): Promise<WrittenFile> {
    const fileId = randomUUID();
    const final = this.path(messageId, fileId);
    const partial = `${final}${PARTIAL_SUFFIX}`;
    const fh = await this.openPartial(messageId, partial);
    const kept: Buffer[] = [];
    const keepLimit = opts.plaintextLimit ?? opts.maxBytes;
    const sealer = new Sealer(this.key, fileContext(messageId, fileId));
    let size = 0;
    let sealed: Buffer[] = [];
    let sealedBytes = 0;
    // One write in flight while the next bytes are read and sealed; small files go out in one write at the end.
    let writing: Promise<void> = Promise.resolve();
    const flush = async () => {
      const batch = sealed;
      sealed = [];
      sealedBytes = 0;
      await writing;
      writing = writeAll(fh, batch);
      // Seen when awaited; until then a failed write must not count as unhandled.
      writing.catch(() => undefined);
    };
    // Pieces below COALESCE_BYTES (a client trickling its body) are joined first, so what is held per upload stays
    // a handful of buffers, not one object per network read.
    let small: Buffer[] = [];
    let smallBytes = 0;
    const feed = (piece: Buffer) => {
      if (opts.keepPlaintext) kept.push(piece);
      const before = sealed.length;
      sealer.update(piece, sealed);
      for (let i = before; i < sealed.length; i++) sealedBytes += sealed[i]!.length;
    };
    const feedSmall = () => {
      if (!smallBytes) return;
      const joined = small.length === 1 ? small[0]! : Buffer.concat(small, smallBytes);
      small = [];
      smallBytes = 0;
      feed(joined);
    };
    // Not destroyed when reading stops early: a refused upload still gets its answer on this connection.
    const chunks = (source.iterator({ destroyOnReturn: false }) as AsyncIterableIterator<Buffer>)[
      Symbol.asyncIterator
    ]();
    try {
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await chunks.next();
        } catch (e) {
          // The request ended early: aborted, reset, or a truncated multipart part.
          throw new UploadAbortedError({ cause: e });
        }
        if (next.done) break;
        const chunk = next.value;
        size += chunk.length;
        if (size > opts.maxBytes) throw new SizeLimitError(opts.maxBytes, size);
        if (opts.keepPlaintext && size > keepLimit) throw new SizeLimitError(keepLimit, size);
        if (chunk.length < COALESCE_BYTES) {
          small.push(chunk);
          smallBytes += chunk.length;
          if (smallBytes >= COALESCE_BYTES) feedSmall();
        } else {
          feedSmall();
          feed(chunk);
        }
        if (sealedBytes >= WRITE_BATCH_BYTES) await flush();
      }
      if (!source.readableEnded) throw new UploadAbortedError();
      feedSmall();
      sealer.final(sealed);
      await flush();
      await writing;
      await fh.close();
      await rename(partial, final);
    } catch (err) {
      await chunks.return?.();
      source.resume();
      // The file handle must be closed before the name goes, or the space stays held.
      await writing.catch(() => undefined);
      await fh.close().catch(() => undefined);
      await rm(partial, { force: true });
      throw err;
    }
    return { fileId, size, ...(opts.keepPlaintext ? { plaintext: Buffer.concat(kept) } : {}) };
  }

  /**
   * The plaintext of a stored file, one authenticated segment at a time. A damaged, truncated, extended or
   * reordered file ends it with a FileIntegrityError before any byte of the damaged part.
   */
  private async *segments(fh: FileHandle, size: number, context: string): AsyncGenerator<Buffer> {
    try {
      if (size < HEADER_BYTES)
        throw new FileIntegrityError('the encrypted file is truncated: its header is incomplete');
      const opener = new Opener(this.key, context);
      // One buffer, reused for every segment; the header and the first segment come in one read.
      const buf = Buffer.allocUnsafe(Math.min(size, HEADER_BYTES + SEGMENT_BYTES));
      let pos = await readFully(fh, buf, buf.length, 0);
      opener.begin(buf);
      let segment = buf.subarray(HEADER_BYTES, pos);
      for (;;) {
        const plain = opener.open(segment, pos === size);
        if (plain.length) yield plain;
        if (pos === size) return;
        const n = Math.min(SEGMENT_BYTES, size - pos);
        pos += await readFully(fh, buf, n, pos);
        segment = buf.subarray(0, n);
      }
    } finally {
      await fh.close();
    }
  }

  private async openSegments(
    messageId: string,
    fileId: string,
  ): Promise<{ fh: FileHandle; segments: AsyncGenerator<Buffer> }> {
    const fh = await open(this.path(messageId, fileId), 'r');
    let size: number;
    try {
      size = (await fh.stat()).size;
    } catch (e) {
      await fh.close();
      throw e;
    }
    return { fh, segments: this.segments(fh, size, fileContext(messageId, fileId)) };
  }

  /** A decrypting stream (see segments()); stopping early closes the file. */
  async openRead(messageId: string, fileId: string): Promise<Readable> {
    const { fh, segments } = await this.openSegments(messageId, fileId);
    const stream = Readable.from(segments);
    // A generator stopped before its first read never runs its finally: the file is closed here too (twice is fine).
    stream.once('close', () => void fh.close().catch(() => undefined));
    return stream;
  }

  async readAll(messageId: string, fileId: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of (await this.openSegments(messageId, fileId)).segments) chunks.push(c);
    return Buffer.concat(chunks);
  }

  async deleteFile(messageId: string, fileId: string): Promise<void> {
    await rm(this.path(messageId, fileId), { force: true });
  }

  /**
   * Removes the message's folder and its files: the names are read once and unlinked together (rm -r would
   * stat every entry first). Anything unexpected in the folder falls back to removing it recursively.
   */
  async deleteMessage(messageId: string): Promise<void> {
    const dir = this.messageDir(messageId);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      await rm(dir, { recursive: true, force: true });
      return;
    }
    try {
      await Promise.all(names.map((n) => unlink(join(dir, n)).catch(ignoreGone)));
      await rmdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Removes partial uploads not written to for longer than `maxAgeMs`: what a process killed mid-upload
   * leaves behind. A live upload touches its file with every chunk, so it is never that old.
   */
  async sweepPartials(maxAgeMs: number, now = Date.now()): Promise<number> {
    const root = join(this.dir, 'out');
    const gone = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';
    let messages: string[];
    try {
      messages = await readdir(root);
    } catch (e) {
      if (gone(e)) return 0;
      throw e;
    }
    let removed = 0;
    for (const m of messages) {
      let names: string[];
      try {
        names = await readdir(join(root, m));
      } catch (e) {
        // Deleted meanwhile, or not a folder.
        if (gone(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
        throw e;
      }
      for (const name of names) {
        if (!name.endsWith(PARTIAL_SUFFIX)) continue;
        const p = join(root, m, name);
        try {
          if (now - (await stat(p)).mtimeMs <= maxAgeMs) continue;
          await rm(p, { force: true });
          removed++;
        } catch (e) {
          if (!gone(e)) throw e;
        }
      }
    }
    return removed;
  }
}

/** Sweeps partial uploads now and then every `intervalMs` (the timer does not keep the process alive). */
export async function startPartialSweeper(
  files: FileStore,
  opts: {
    maxAgeMs: number;
    intervalMs: number;
    onSwept: (removed: number) => void;
    onError: (e: unknown) => void;
  },
): Promise<() => void> {
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      const removed = await files.sweepPartials(opts.maxAgeMs);
      if (removed) opts.onSwept(removed);
    } catch (e) {
      opts.onError(e);
    } finally {
      running = false;
    }
  };
  await sweep();
  const timer = setInterval(sweep, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
