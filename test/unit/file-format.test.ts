import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CHUNK_BYTES,
  encryptedSize,
  FileIntegrityError,
  HEADER_BYTES,
  Opener,
  SEGMENT_BYTES,
  Sealer,
  TAG_BYTES,
} from '../../src/store/file-format.js';
import { FileStore } from '../../src/store/files.js';

const dir = mkdtempSync(join(tmpdir(), 'eip-format-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const key = randomBytes(32);
const files = new FileStore(dir, key);

interface Stored {
  messageId: string;
  fileId: string;
  plain: Buffer;
  path: string;
  raw: Buffer;
}

/** Stores `size` random bytes, fed in uneven pieces as a socket would. */
async function store(size: number): Promise<Stored> {
  const messageId = randomUUID();
  const plain = randomBytes(size);
  const pieces: Buffer[] = [];
  for (let off = 0, i = 0; off < size; i++) {
    const n = [1, 7, 65_535, 100_000, 3][i % 5] ?? 1;
    pieces.push(plain.subarray(off, off + n));
    off += n;
  }
  const w = await files.write(messageId, Readable.from(pieces.length ? pieces : [Buffer.alloc(0)]), {
    maxBytes: 1e9,
  });
  const path = join(dir, 'out', messageId, `${w.fileId}.bin`);
  return { messageId, fileId: w.fileId, plain, path, raw: readFileSync(path) };
}

/** Seals `pieces` as one file under `context`, in memory. */
function sealPieces(pieces: Buffer[], context: string): Buffer {
  const sealer = new Sealer(key, context);
  const out: Buffer[] = [];
  for (const p of pieces) sealer.update(p, out);
  sealer.final(out);
  return Buffer.concat(out);
}

/** Opens a whole sealed file in memory, segment by segment, the last one flagged as such. */
function openWhole(whole: Buffer, context: string): Buffer {
  const opener = new Opener(key, context);
  opener.begin(whole.subarray(0, HEADER_BYTES));
  const out: Buffer[] = [];
  for (let off = HEADER_BYTES; ; off += SEGMENT_BYTES) {
    const end = Math.min(off + SEGMENT_BYTES, whole.length);
    out.push(opener.open(whole.subarray(off, end), end === whole.length));
    if (end === whole.length) return Buffer.concat(out);
  }
}

/** What a reader receives before the stream ends or fails ('data' events, as a consumer sees them). */
async function release(
  s: Pick<Stored, 'messageId' | 'fileId'>,
): Promise<{ released: Buffer; error: unknown }> {
  const stream = await files.openRead(s.messageId, s.fileId);
  const parts: Buffer[] = [];
  return new Promise((resolve) => {
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('error', (error) => resolve({ released: Buffer.concat(parts), error }));
    stream.on('end', () => resolve({ released: Buffer.concat(parts), error: null }));
  });
}

const segment = (raw: Buffer, i: number) =>
  raw.subarray(
    HEADER_BYTES + i * SEGMENT_BYTES,
    Math.min(raw.length, HEADER_BYTES + (i + 1) * SEGMENT_BYTES),
  );
const headerOf = (raw: Buffer) => raw.subarray(0, HEADER_BYTES);
const rewrite = (s: Stored, bytes: Buffer) => writeFileSync(s.path, bytes);

/** The damaged file fails, and what came out before is exactly the first `chunks` chunks. */
async function expectFailsAfter(s: Stored, chunks: number) {
  const { released, error } = await release(s);
  expect(error).toBeInstanceOf(FileIntegrityError);
  expect(released.length).toBe(chunks * CHUNK_BYTES);
  expect(released.equals(s.plain.subarray(0, chunks * CHUNK_BYTES))).toBe(true);
}

// 3.5 chunks: segments 0, 1, 2 full, segment 3 (the last) half full.
const FOUR_SEGMENTS = 3 * CHUNK_BYTES + CHUNK_BYTES / 2;

describe('chunked authenticated file format', () => {
  it.each([
    ['an empty file', 0, 1],
    ['one byte', 1, 1],
    ['64 KiB - 1', CHUNK_BYTES - 1, 1],
    ['exactly 64 KiB', CHUNK_BYTES, 1],
    ['64 KiB + 1', CHUNK_BYTES + 1, 2],
    ['exactly 3 × 64 KiB', 3 * CHUNK_BYTES, 3],
    ['3.5 × 64 KiB', FOUR_SEGMENTS, 4],
  ])('reads back %s exactly (%i bytes, %i segments)', async (_name, size, segments) => {
    const s = await store(size);
    expect(s.raw.length).toBe(HEADER_BYTES + size + segments * TAG_BYTES);
    expect(encryptedSize(size)).toBe(s.raw.length);
    expect(s.raw[0]).toBe(0x02);
    const { released, error } = await release(s);
    expect(error).toBeNull();
    expect(released.equals(s.plain)).toBe(true);
  });

  it('a flipped byte in a middle chunk: only the chunks before it come out', async () => {
    const s = await store(FOUR_SEGMENTS);
    const raw = Buffer.from(s.raw);
    const at = HEADER_BYTES + 2 * SEGMENT_BYTES + 1234;
    raw[at] = (raw[at] ?? 0) ^ 0x01;
    rewrite(s, raw);
    await expectFailsAfter(s, 2);
  });

  it("a flipped byte in the last chunk's tag: every chunk but the last comes out", async () => {
    const s = await store(FOUR_SEGMENTS);
    const raw = Buffer.from(s.raw);
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 0x80;
    rewrite(s, raw);
    await expectFailsAfter(s, 3);
  });

  it.each([
    ['version', 0],
    ['salt', 5],
    ['nonce prefix', HEADER_BYTES - 1],
  ])('a flipped byte in the header (%s): nothing comes out', async (_name, at) => {
    const s = await store(FOUR_SEGMENTS);
    const raw = Buffer.from(s.raw);
    raw[at] = (raw[at] ?? 0) ^ 0x04;
    rewrite(s, raw);
    await expectFailsAfter(s, 0);
  });

  it('truncated inside a chunk: the chunks before it come out', async () => {
    const s = await store(FOUR_SEGMENTS);
    rewrite(s, s.raw.subarray(0, HEADER_BYTES + 2 * SEGMENT_BYTES + 500));
    await expectFailsAfter(s, 2);
  });

  it('truncated at a chunk boundary: the remaining last chunk was not sealed as last, so it is held back', async () => {
    const s = await store(FOUR_SEGMENTS);
    rewrite(s, s.raw.subarray(0, HEADER_BYTES + 2 * SEGMENT_BYTES));
    await expectFailsAfter(s, 1);
  });

  it('the final chunk dropped: every chunk before it but the new "last" comes out', async () => {
    const s = await store(FOUR_SEGMENTS);
    rewrite(s, s.raw.subarray(0, HEADER_BYTES + 3 * SEGMENT_BYTES));
    await expectFailsAfter(s, 2);
  });

  it('truncated to the header, or inside it: nothing comes out', async () => {
    const s = await store(FOUR_SEGMENTS);
    rewrite(s, headerOf(s.raw));
    await expectFailsAfter(s, 0);
    rewrite(s, s.raw.subarray(0, 10));
    await expectFailsAfter(s, 0);
    rewrite(s, Buffer.alloc(0));
    await expectFailsAfter(s, 0);
  });

  it('two chunks swapped: only the chunk before them comes out', async () => {
    const s = await store(FOUR_SEGMENTS);
    const r = s.raw;
    rewrite(s, Buffer.concat([headerOf(r), segment(r, 0), segment(r, 2), segment(r, 1), segment(r, 3)]));
    await expectFailsAfter(s, 1);
  });

  it('a chunk dropped from the middle: only the chunks before the gap come out', async () => {
    const s = await store(FOUR_SEGMENTS);
    const r = s.raw;
    rewrite(s, Buffer.concat([headerOf(r), segment(r, 0), segment(r, 2), segment(r, 3)]));
    await expectFailsAfter(s, 1);
  });

  it('a chunk repeated: the chunks up to the copy come out, the copy does not', async () => {
    const s = await store(FOUR_SEGMENTS);
    const r = s.raw;
    rewrite(
      s,
      Buffer.concat([headerOf(r), segment(r, 0), segment(r, 1), segment(r, 1), segment(r, 2), segment(r, 3)]),
    );
    await expectFailsAfter(s, 2);
  });

  it('bytes after the last chunk: the last chunk is held back', async () => {
    const s = await store(FOUR_SEGMENTS);
    rewrite(s, Buffer.concat([s.raw, Buffer.from([0])]));
    await expectFailsAfter(s, 3);
    rewrite(s, Buffer.concat([s.raw, segment(s.raw, 3)]));
    await expectFailsAfter(s, 3);
  });

  it('a chunk taken from another file under the same key: refused at that chunk', async () => {
    const a = await store(FOUR_SEGMENTS);
    const b = await store(FOUR_SEGMENTS);
    const r = a.raw;
    rewrite(a, Buffer.concat([headerOf(r), segment(r, 0), segment(b.raw, 1), segment(r, 2), segment(r, 3)]));
    await expectFailsAfter(a, 1);
  });

  it('a file copied over another file id does not open there', async () => {
    const a = await store(CHUNK_BYTES * 2);
    const b = await store(CHUNK_BYTES * 2);
    copyFileSync(a.path, b.path);
    await expectFailsAfter(b, 0);
  });

  it('an empty file without its one (empty, last) chunk fails', async () => {
    const s = await store(0);
    expect(s.raw.length).toBe(HEADER_BYTES + TAG_BYTES);
    rewrite(s, headerOf(s.raw));
    await expectFailsAfter(s, 0);
  });

  it('exactly 64 KiB: one last chunk; cut or flipped, nothing comes out', async () => {
    const s = await store(CHUNK_BYTES);
    rewrite(s, s.raw.subarray(0, s.raw.length - 1));
    await expectFailsAfter(s, 0);
    const raw = Buffer.from(s.raw);
    raw[HEADER_BYTES] = (raw[HEADER_BYTES] ?? 0) ^ 0x01;
    rewrite(s, raw);
    await expectFailsAfter(s, 0);
  });

  it('64 KiB + 1 with its 1-byte last chunk dropped: the full chunk is not released', async () => {
    const s = await store(CHUNK_BYTES + 1);
    expect(segment(s.raw, 1).length).toBe(1 + TAG_BYTES);
    rewrite(s, s.raw.subarray(0, HEADER_BYTES + SEGMENT_BYTES));
    await expectFailsAfter(s, 0);
  });

  it('seals the same file however the plaintext is split into pieces', () => {
    const plain = randomBytes(2 * CHUNK_BYTES + 99);
    for (const size of [1, 4096, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, plain.length]) {
      const pieces: Buffer[] = [];
      for (let off = 0; off < plain.length; off += size) pieces.push(plain.subarray(off, off + size));
      const whole = sealPieces(pieces, 'm/f');
      expect(whole.length).toBe(encryptedSize(plain.length));
      expect(openWhole(whole, 'm/f').equals(plain)).toBe(true);
    }
  });

  it('a file of several write batches (1 MiB + 5 in 16 KiB pieces) reads back exactly', async () => {
    const messageId = randomUUID();
    const plain = randomBytes(1024 * 1024 + 5);
    const pieces: Buffer[] = [];
    for (let off = 0; off < plain.length; off += 16 * 1024) pieces.push(plain.subarray(off, off + 16 * 1024));
    const w = await files.write(messageId, Readable.from(pieces), { maxBytes: 1e9 });
    expect(w.size).toBe(plain.length);
    const raw = readFileSync(join(dir, 'out', messageId, `${w.fileId}.bin`));
    expect(raw.length).toBe(encryptedSize(plain.length));
    expect((await files.readAll(messageId, w.fileId)).equals(plain)).toBe(true);
  });

  it('sealed bytes open only under the name they were sealed for', () => {
    const plain = randomBytes(2 * CHUNK_BYTES + 99);
    const whole = sealPieces([plain], 'm/f');
    expect(openWhole(whole, 'm/f').equals(plain)).toBe(true);
    expect(() => openWhole(whole, 'm/other')).toThrow(FileIntegrityError);
  });
});
