import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/demo/redis.js';
import { arkivmeldingXml, sbd } from '../helpers/messages.js';

/** `npm run demo` as a user starts it: a child process tree we stop with Ctrl-C (SIGINT to the group). */

const REPO = new URL('../../', import.meta.url).pathname;

interface Demo {
  child: ChildProcess;
  output: () => string;
  ready: Promise<{ api: string; user: string; password: string; redisUrl: string; altinn: string }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDemo(env: Record<string, string>): Demo {
  let out = '';
  const child = spawn('npm', ['run', 'demo'], {
    cwd: REPO,
    env: { ...process.env, ...env },
    detached: true, // its own process group, so the test can signal the whole tree as a terminal would
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<Awaited<Demo['exited']>>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const ready = new Promise<Awaited<Demo['ready']>>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!out.includes('Demo ready.')) return;
      const api = /Integration point API\s+(\S+)/.exec(out)?.[1];
      const creds = /Credentials\s+(\S+):(\S+)/.exec(out);
      const redisUrl = /Redis\s+(redis:\/\/\S+?),?\s/.exec(out)?.[1];
      const altinn = /Altinn sandbox\s+(\S+)/.exec(out)?.[1];
      if (!api || !creds || !redisUrl || !altinn) return reject(new Error(`unreadable demo output:\n${out}`));
      resolve({ api, user: creds[1]!, password: creds[2]!, redisUrl, altinn });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    exited.then(({ code }) => reject(new Error(`demo exited (${code}) before it was ready:\n${out}`)));
  });
  return { child, output: () => out, ready, exited };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Every process still in the group (the demo and anything it started). */
async function groupMembers(pgid: number): Promise<number[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // Fields after the command name: state ppid pgrp ...
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

let demo: Demo | undefined;
let ownRedisUrl: string | undefined;
afterAll(async () => {
  // Only when the test failed half-way: nothing of the demo may outlive the run, its own redis-server included
  // (that one runs in a process group of its own, so the demo can stop it last).
  if (demo?.child.pid && demo.child.exitCode === null && demo.child.signalCode === null) {
    process.kill(-demo.child.pid, 'SIGKILL');
  }
  if (ownRedisUrl && (await portOpen(Number(new URL(ownRedisUrl).port)))) {
    const { Redis } = await import('ioredis');
    const r = new Redis(ownRedisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await r
      .connect()
      .then(() => r.call('SHUTDOWN', 'NOSAVE'))
      .catch(() => {});
    r.disconnect();
  }
});

describe('npm run demo', () => {
  it('starts Redis, both sandboxes and the service; a sample sent over HTTP is accepted; Ctrl-C stops it all', async () => {
    // Nothing listens here, so the demo must start its own redis-server.
    const deadPort = await freePort();
    demo = startDemo({ REDIS_URL: `redis://127.0.0.1:${deadPort}`, PORT: '0' });
    const info = await demo.ready;
    ownRedisUrl = info.redisUrl;
    expect(info.redisUrl).not.toBe(`redis://127.0.0.1:${deadPort}`);
    expect(demo.output()).toContain('(started for this demo)');

    const auth = `Basic ${Buffer.from(`${info.user}:${info.password}`).toString('base64')}`;
    const call = (
      method: string,
      path: string,
      body?: string | Buffer,
      headers: Record<string, string> = {},
    ) =>
      fetch(info.api + path, {
        method,
        headers: { authorization: auth, ...headers },
        ...(body ? { body } : {}),
      });
    const messageId = randomUUID();
    const created = await call('POST', '/api/messages/out', JSON.stringify(sbd({ messageId })), {
      'content-type': 'application/json',
    });
    expect(created.status).toBe(200);
    const xml = await call(
      'PUT',
      `/api/messages/out/${messageId}`,
      arkivmeldingXml({ files: ['vedtak.pdf'] }),
      {
        'content-type': 'text/xml',
        'content-disposition': 'attachment; name="Arkivmelding"; filename="arkivmelding.xml"',
      },
    );
    expect(xml.status).toBe(200);
    const pdf = await call(
      'PUT',
      `/api/messages/out/${messageId}?title=Vedtak`,
      Buffer.from('%PDF-1.7 demo'),
      {
        'content-type': 'application/pdf',
        'content-disposition': 'attachment; filename="vedtak.pdf"',
      },
    );
    expect(pdf.status).toBe(200);
    expect((await call('POST', `/api/messages/out/${messageId}`)).status).toBe(200);
    const statuses = (await (await call('GET', `/api/statuses/${messageId}`)).json()) as {
      content: { status: string }[];
    };
    expect(statuses.content.map((s) => s.status)).toContain('OPPRETTET');

    // The demo's background sends it to the sandbox Altinn and polls it (every second): SENDT, then LEVERT once
    // Altinn publishes it; the sandbox's read control takes the messageId and makes it LEST.
    const statusNames = async () =>
      (
        (await (await call('GET', `/api/statuses/${messageId}?sort=id,asc`)).json()) as {
          content: { status: string }[];
        }
      ).content.map((s) => s.status);
    const waitForStatus = async (status: string) => {
      for (let i = 0; i < 600; i++) {
        const names = await statusNames();
        if (names.includes(status)) return names;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${status}; output:\n${demo!.output()}`);
    };
    await waitForStatus('SENDT');
    expect(await waitForStatus('LEVERT')).toEqual(['OPPRETTET', 'SENDT', 'LEVERT']);
    const read = await fetch(`${info.altinn}/__fake/correspondence/${messageId}/read`, { method: 'POST' });
    expect(read.status).toBe(200);
    expect(await waitForStatus('LEST')).toEqual(['OPPRETTET', 'SENDT', 'LEVERT', 'LEST']);

    const ports = [info.api, info.altinn, info.redisUrl].map((u) => Number(new URL(u).port));
    for (const p of ports) expect(await portOpen(p)).toBe(true);
    const pgid = demo.child.pid!;
    expect((await groupMembers(pgid)).length).toBeGreaterThan(1);

    process.kill(-pgid, 'SIGINT');
    // npm, like a shell, ends by the signal itself; the demo underneath exits 0 after its cleanup.
    const { code, signal } = await demo.exited;
    expect(code === 0 || signal === 'SIGINT').toBe(true);
    // Bounded wait: children may take a moment after the parent.
    for (let i = 0; i < 50 && (await groupMembers(pgid)).length > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await groupMembers(pgid)).toEqual([]);
    // Everything in the tree shares the output pipe: it ends once the last of them has exited.
    if (!demo.child.stdout!.readableEnded) await new Promise((r) => demo!.child.stdout!.once('end', r));
    expect(demo.output()).toContain('Demo stopped.');
    // The redis-server it started is gone too (the other ports are ephemeral: other tests may reuse them by now).
    expect(await portOpen(ports[2]!)).toBe(false);
  });
});
