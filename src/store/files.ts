import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  finished,
  PassThrough,
  pipeline,
  type Readable,
  Transform,
  type TransformCallback,
} from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { OpenStream, SEGMENT_BYTES, SealStream } from './file-format.js';

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
    const seal = new SealStream(this.key, fileContext(messageId, fileId));
    const out = fh.createWriteStream();
    // A pass-through between request and pipeline, so a refused upload does not destroy the socket.
    const pass = new PassThrough();
    source.pipe(pass);
    // pipe() does not pass on an aborted request: without this the pipeline would wait for the rest forever.
    // A stream destroyed after its last chunk was queued (a truncated multipart part) reports no error but
    // never ends either, so that counts as aborted too.
    const stopWatching = finished(source, (err) => {
      if (err || !source.readableEnded) pass.destroy(new UploadAbortedError({ cause: err }));
    });
    try {
      await pipelineAsync(pass, limiter, seal, out);
      await rename(partial, final);
    } catch (err) {
      source.unpipe(pass);
      source.resume();
      // The file handle must be closed before the name goes, or the space stays held.
      // (Not events.once: the stream's own 'error' would reject it before 'close'.)
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await rm(partial, { force: true });
      throw err;
    } finally {
      stopWatching();
    }
    return { fileId, size, ...(opts.keepPlaintext ? { plaintext: Buffer.concat(chunks) } : {}) };
  }

  /**
   * A decrypting stream. Each 64 KiB is released only once authenticated; a damaged, truncated or
   * reordered file ends the stream with a FileIntegrityError before any byte of the damaged part.
   */
  async openRead(messageId: string, fileId: string): Promise<Readable> {
    const fh = await open(this.path(messageId, fileId), 'r');
    const raw = fh.createReadStream({ highWaterMark: SEGMENT_BYTES });
    // pipeline (not pipe) so a read error reaches the reader and an early stop closes the file.
    return pipeline(raw, new OpenStream(this.key, fileContext(messageId, fileId)), () => {});
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
