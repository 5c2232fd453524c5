import { randomBytes, randomUUID } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Crypto } from '../../src/store/crypto.js';
import { encryptedSize, Sealer } from '../../src/store/file-format.js';
import { FileStore, SizeLimitError } from '../../src/store/files.js';

const dir = mkdtempSync(join(tmpdir(), 'eip-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const crypto = new Crypto(randomBytes(32));
const files = new FileStore(dir, crypto.fileKey);

/** Polls `check` for up to 2 s. */
async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('encrypted file store', () => {
  it('reads back exactly what was written, while the disk holds only ciphertext', async () => {
    const mid = randomUUID();
    const body = Buffer.from('Vedtak om tiltak for et navngitt barn. '.repeat(5000));
    const w = await files.write(mid, Readable.from([body.subarray(0, 1000), body.subarray(1000)]), {
      maxBytes: 1e9,
    });
    expect(w.size).toBe(body.length);
    const onDisk = readFileSync(join(dir, 'out', mid, `${w.fileId}.bin`));
    expect(onDisk.length).toBe(encryptedSize(body.length));
    expect(onDisk.includes(Buffer.from('navngitt barn'))).toBe(false);
    expect((await files.readAll(mid, w.fileId)).equals(body)).toBe(true);
  });

  it('deletes a message: its folder and every file in it, a partial upload too; a second delete is a no-op', async () => {
    const mid = randomUUID();
    const other = randomUUID();
    for (const m of [mid, mid, other])
      await files.write(m, Readable.from([randomBytes(70_000)]), { maxBytes: 1e9 });
    writeFileSync(join(dir, 'out', mid, `${randomUUID()}.bin.part`), 'half an upload');
    expect(readdirSync(join(dir, 'out', mid))).toHaveLength(3);
    await files.deleteMessage(mid);
    expect(readdirSync(join(dir, 'out'))).not.toContain(mid);
    expect(readdirSync(join(dir, 'out', other))).toHaveLength(1);
    await files.deleteMessage(mid);
    await files.deleteMessage(randomUUID());
  });

  it('deletes a message folder that holds something unexpected (a sub-folder) all the same', async () => {
    const mid = randomUUID();
    await files.write(mid, Readable.from([Buffer.from('x')]), { maxBytes: 1e9 });
    mkdirSync(join(dir, 'out', mid, 'nested'));
    writeFileSync(join(dir, 'out', mid, 'nested', 'f'), 'x');
    await files.deleteMessage(mid);
    expect(readdirSync(join(dir, 'out'))).not.toContain(mid);
  });

  it('joins a body trickled in tiny pieces before sealing it: a few buffers held, not one per piece', async () => {
    const mid = randomUUID();
    const body = randomBytes(200_000);
    const pieces: Buffer[] = [];
    for (let off = 0; off < body.length; off += 7) pieces.push(body.subarray(off, off + 7));
    const update = vi.spyOn(Sealer.prototype, 'update');
    try {
      const w = await files.write(mid, Readable.from(pieces), { maxBytes: 1e9, keepPlaintext: true });
      expect(w.plaintext?.equals(body)).toBe(true);
      // 28,572 pieces of 7 bytes reach the sealer as pieces of 16 KiB or more (the rest at the end).
      const sizes = update.mock.calls.map(([piece]) => piece.length);
      expect(sizes.length).toBeLessThanOrEqual(Math.ceil(body.length / (16 * 1024)));
      expect(sizes.slice(0, -1).every((n) => n >= 16 * 1024)).toBe(true);
      expect((await files.readAll(mid, w.fileId)).equals(body)).toBe(true);
    } finally {
      update.mockRestore();
    }
  });

  it('closes the file of a read stream destroyed before its first read, and of one read to the end', async () => {
    const mid = randomUUID();
    const w = await files.write(mid, Readable.from([randomBytes(100_000)]), { maxBytes: 1e9 });
    const path = join(dir, 'out', mid, `${w.fileId}.bin`);
    const openOnFile = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === path;
        } catch {
          return false;
        }
      }).length;
    const unread = await files.openRead(mid, w.fileId);
    expect(openOnFile()).toBe(1);
    unread.destroy();
    await waitUntil(() => openOnFile() === 0);
    const read = await files.openRead(mid, w.fileId);
    for await (const _ of read) {
      // drain
    }
    await waitUntil(() => openOnFile() === 0);
    expect(openOnFile()).toBe(0);
  });

  it('handles an empty file', async () => {
    const mid = randomUUID();
    const w = await files.write(mid, Readable.from([Buffer.alloc(0)]), { maxBytes: 10 });
    expect((await files.readAll(mid, w.fileId)).length).toBe(0);
  });

  it('refuses to return a tampered file', async () => {
    const mid = randomUUID();
    const w = await files.write(mid, Readable.from([Buffer.from('hemmelig innhold')]), { maxBytes: 100 });
    const p = join(dir, 'out', mid, `${w.fileId}.bin`);
    const raw = readFileSync(p);
    raw[14] = (raw[14] ?? 0) ^ 1;
    writeFileSync(p, raw);
    await expect(files.readAll(mid, w.fileId)).rejects.toThrow();
  });

  it('stops at the size limit and leaves no partial file', async () => {
    const mid = randomUUID();
    await expect(
      files.write(mid, Readable.from([Buffer.alloc(60), Buffer.alloc(60)]), { maxBytes: 100 }),
    ).rejects.toBeInstanceOf(SizeLimitError);
    expect(readdirSync(join(dir, 'out', mid))).toEqual([]);
  });

  it('seals and opens fields, and detects a changed seal', () => {
    const sealed = crypto.seal('taushetsbelagt varseltekst');
    expect(sealed).not.toContain('varseltekst');
    expect(crypto.open(sealed)).toBe('taushetsbelagt varseltekst');
    const broken = `v1.${Buffer.from(Buffer.from(sealed.slice(3), 'base64').map((b, i) => (i === 20 ? b ^ 1 : b))).toString('base64')}`;
    expect(() => crypto.open(broken)).toThrow();
  });
});
