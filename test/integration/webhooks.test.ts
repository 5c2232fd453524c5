import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crypto } from '../../src/store/crypto.js';
import { Store } from '../../src/store/store.js';
import { startBackground } from '../../src/workers/index.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { createConfidentialMessage } from '../helpers/outgoing.js';
import { eventually, WebhookReceiver } from '../helpers/webhook-receiver.js';

let h: Harness;
let store: Store;
let background: { close(): Promise<void> };
const receivers: WebhookReceiver[] = [];

const receiver = async () => {
  const r = await new WebhookReceiver().start();
  receivers.push(r);
  return r;
};

beforeAll(async () => {
  h = await startHarness({
    WEBHOOK_RETRY_BASE_MS: '40',
    WEBHOOK_MAX_ATTEMPTS: '3',
    WEBHOOK_TIMEOUT_MS: '2000',
  });
  store = new Store(h.redis, `${h.prefix}:`, new Crypto(h.config.DATA_ENCRYPTION_KEY));
  background = await startBackground(h.config, { log: h.app.log });
});
afterAll(async () => {
  await background.close();
  for (const r of receivers) await r.close();
  await h.close();
});

type Sub = Record<string, unknown> & { id: number };
const subscribe = (body: Record<string, unknown>) => h.json<Sub>('POST', '/api/subscriptions', body);

describe('webhook delivery', () => {
  it('retries a failing endpoint with back-off: three attempts, one accepted, signed with the secret', async () => {
    const r = await receiver();
    let statusEvents = 0;
    r.answer = ({ body }) => (body.event === 'ping' ? 200 : ++statusEvents <= 2 ? 503 : 200);
    const secret = 'a-long-shared-secret-0123456789';
    const sub = await subscribe({
      name: 'Feil',
      pushEndpoint: r.url,
      resource: 'messages',
      event: 'status',
      filter: 'status=FEIL',
      secret,
    });
    expect(sub.status).toBe(200);
    expect(sub.body).not.toHaveProperty('secret');
    expect(JSON.stringify(sub.body)).not.toContain(secret);
    expect(r.requests[0]!.body).toEqual({ createdTs: expect.any(String), event: 'ping' });

    const { messageId, conversationId } = await createConfidentialMessage(h);
    expect(
      (await store.addStatus(messageId, 'FEIL', { description: 'Mottaker mangler tilgang' })).outcome,
    ).toBe('new');

    await r.waitFor(() => r.events().some((e) => e.answered === 200));
    const attempts = r.events();
    expect(attempts.map((a) => a.answered)).toEqual([503, 503, 200]);
    // Exponential back-off: the gap before the third attempt is at least the second step (2 × 40 ms).
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(70);
    const ok = attempts[2]!;
    expect(ok.body).toEqual({
      createdTs: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      resource: 'messages',
      event: 'status',
      messageId,
      conversationId,
      direction: 'OUTGOING',
      serviceIdentifier: 'DPV',
      status: 'FEIL',
      description: 'Mottaker mangler tilgang',
    });
    const expected = `sha256=${createHmac('sha256', secret).update(ok.raw).digest('hex')}`;
    expect(ok.headers['x-eformidling-signature']).toBe(expected);
    expect(ok.headers['content-type']).toMatch(/^application\/json/);

    const after = await eventually(async () => {
      const s = await h.json<Sub>('GET', `/api/subscriptions/${sub.body.id}`);
      return (s.body.lastDelivery as { httpStatus?: number } | undefined)?.httpStatus === 200 ? s : null;
    });
    expect(after.body).toMatchObject({ failing: false, lastDelivery: { httpStatus: 200 } });
    expect(after.body).not.toHaveProperty('secret');
  });

  it('marks a subscription failing once an event used up its attempts, and clears it on the next success', async () => {
    const r = await receiver();
    let down = true;
    r.answer = ({ body }) => (body.event === 'ping' || !down ? 200 : 500);
    const sub = await subscribe({
      name: 'Nede',
      pushEndpoint: r.url,
      resource: 'all',
      event: 'all',
      filter: 'status=FEIL,LEVERT',
    });
    expect(sub.status).toBe(200);
    const a = await createConfidentialMessage(h);
    await store.addStatus(a.messageId, 'FEIL');
    await r.waitFor(() => r.events().length === 3);
    const failing = await eventually(async () => {
      const s = await h.json<Sub>('GET', `/api/subscriptions/${sub.body.id}`);
      return s.body.failing === true ? s : null;
    });
    expect(failing.body.lastDelivery).toMatchObject({ httpStatus: 500, error: 'HTTP 500' });

    down = false;
    const b = await createConfidentialMessage(h);
    await store.addStatus(b.messageId, 'SENDT');
    await store.addStatus(b.messageId, 'LEVERT');
    await r.waitFor(() => r.events().some((e) => e.answered === 200));
    const healed = await eventually(async () => {
      const s = await h.json<Sub>('GET', `/api/subscriptions/${sub.body.id}`);
      return s.body.failing === false ? s : null;
    });
    expect(healed.body.lastDelivery).toMatchObject({ httpStatus: 200 });
    expect(healed.body.lastDelivery).not.toHaveProperty('error');
    // The failed event was not sent a fourth time.
    expect(r.events().filter((e) => e.body.messageId === a.messageId)).toHaveLength(3);
  });

  it('sends each subscription only the events its resource, event and filter select', async () => {
    const levert = await receiver();
    const feilOrUtlopt = await receiver();
    const incoming = await receiver();
    const everything = await receiver();
    const unreadOnly = await receiver();
    expect(
      (
        await subscribe({
          name: 'L',
          pushEndpoint: levert.url,
          resource: 'messages',
          event: 'status',
          filter: 'status=levert&direction=OUTGOING',
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await subscribe({
          name: 'F',
          pushEndpoint: feilOrUtlopt.url,
          resource: 'all',
          event: 'status',
          filter: 'status=FEIL,LEVETID_UTLOPT',
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await subscribe({
          name: 'I',
          pushEndpoint: incoming.url,
          resource: 'all',
          event: 'all',
          filter: 'direction=INCOMING',
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await subscribe({
          name: 'A',
          pushEndpoint: everything.url,
          resource: 'all',
          event: 'all',
          filter: 'serviceIdentifier=DPV',
        })
      ).status,
    ).toBe(200);
    expect(
      (await subscribe({ name: 'U', pushEndpoint: unreadOnly.url, resource: 'messages', event: 'unread' }))
        .status,
    ).toBe(200);

    const m1 = await createConfidentialMessage(h);
    const m2 = await createConfidentialMessage(h);
    await store.addStatus(m1.messageId, 'SENDT');
    await store.addStatus(m1.messageId, 'LEVERT');
    await store.addStatus(m2.messageId, 'LEVETID_UTLOPT');

    const mine = (r: WebhookReceiver) =>
      r.events().filter((e) => e.body.messageId === m1.messageId || e.body.messageId === m2.messageId);
    await everything.waitFor(() => mine(everything).length === 5);
    await levert.waitFor(() => mine(levert).length === 1);
    await feilOrUtlopt.waitFor(() => mine(feilOrUtlopt).length === 1);
    expect(mine(levert).map((e) => [e.body.messageId, e.body.status])).toEqual([[m1.messageId, 'LEVERT']]);
    expect(mine(feilOrUtlopt).map((e) => [e.body.messageId, e.body.status])).toEqual([
      [m2.messageId, 'LEVETID_UTLOPT'],
    ]);
    expect(
      mine(everything)
        .map((e) => e.body.status)
        .sort(),
    ).toEqual(['LEVERT', 'LEVETID_UTLOPT', 'OPPRETTET', 'OPPRETTET', 'SENDT'].sort());
    expect(incoming.events()).toEqual([]);
    expect(unreadOnly.events()).toEqual([]);
  });

  it('survives a restart of the fan-out: statuses written while it was stopped are delivered after', async () => {
    const r = await receiver();
    expect(
      (
        await subscribe({
          name: 'R',
          pushEndpoint: r.url,
          resource: 'all',
          event: 'status',
          filter: 'status=FEIL',
        })
      ).status,
    ).toBe(200);
    await background.close();
    const m = await createConfidentialMessage(h);
    await store.addStatus(m.messageId, 'FEIL');
    background = await startBackground(h.config, { log: h.app.log });
    await r.waitFor(() => r.events().some((e) => e.body.messageId === m.messageId));
    expect(r.events().filter((e) => e.body.messageId === m.messageId)).toHaveLength(1);
  });
});

describe('status events left by a dead consumer', () => {
  it('are taken over and delivered once they have waited long enough', async () => {
    const r = await receiver();
    expect(
      (
        await subscribe({
          name: 'Dead',
          pushEndpoint: r.url,
          resource: 'all',
          event: 'status',
          filter: 'status=LEVETID_UTLOPT',
        })
      ).status,
    ).toBe(200);
    await background.close();
    const m = await createConfidentialMessage(h);
    await store.addStatus(m.messageId, 'LEVETID_UTLOPT');
    // Another instance reads the new entries and dies before acknowledging them.
    const read = (await h.redis.xreadgroup(
      'GROUP',
      'notices',
      'crashed-instance',
      'COUNT',
      1000,
      'STREAMS',
      `${h.prefix}:status:events`,
      '>',
    )) as [string, unknown[]][];
    expect(read[0]![1].length).toBeGreaterThan(0);
    background = await startBackground(h.config, { log: h.app.log, claimIdleMs: 200 });
    await r.waitFor(() => r.events().some((e) => e.body.messageId === m.messageId));
    expect(r.events().filter((e) => e.body.messageId === m.messageId)).toHaveLength(1);
    // Everything the dead consumer held is acknowledged now.
    await eventually(async () =>
      ((await h.redis.xpending(`${h.prefix}:status:events`, 'notices')) as [number])[0] === 0 ? true : null,
    );
  });
});

describe('subscriptions API', () => {
  it('refuses a subscription whose ping fails, and stores nothing', async () => {
    const r = await receiver();
    r.answer = () => 500;
    const res = await subscribe({ name: 'Ping', pushEndpoint: r.url, resource: 'all', event: 'all' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      exception: 'WebhookPushEndpointPingFailedException',
      message: 'Ping failed with: HTTP 500.',
    });
    const closed = await subscribe({
      name: 'Ping',
      pushEndpoint: 'http://127.0.0.1:1/nothing',
      resource: 'all',
      event: 'all',
    });
    expect(closed.status).toBe(400);
    expect(closed.body.exception).toBe('WebhookPushEndpointPingFailedException');
    // No error code in the answer: it would tell which internal ports are open.
    expect(closed.body.message).toBe('Ping failed with: connection failed.');
    // An endpoint that accepts the connection and never answers: the deadline makes it a failure.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const hung = await subscribe({
      name: 'Ping',
      pushEndpoint: `http://127.0.0.1:${port}/`,
      resource: 'all',
      event: 'all',
    });
    silent.close();
    expect(hung.status).toBe(400);
    expect(hung.body.message).toBe('Ping failed with: no answer within 2000 ms.');
    const redirect = await receiver();
    redirect.answer = () => 302;
    const moved = await subscribe({
      name: 'Ping',
      pushEndpoint: redirect.url,
      resource: 'all',
      event: 'all',
    });
    expect(moved.body.message).toBe('Ping failed with: HTTP 302.');
    const list = await h.json<{ content: Sub[] }>('GET', '/api/subscriptions?size=100');
    expect(list.body.content.filter((s) => s.name === 'Ping')).toEqual([]);
  });

  it('validates fields and names every problem', async () => {
    const bad = await subscribe({
      name: '',
      pushEndpoint: 'ftp://example.org/x',
      resource: 'files',
      event: 'nonexistent',
      filter: 'status=FEIL&colour=red&size=3',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.exception).toBe('ConstraintViolationException');
    const fields = (bad.body.errors as { field: string; message: string }[]).map((e) => e.field).sort();
    expect(fields).toEqual(['event', 'filter', 'name', 'pushEndpoint', 'resource']);
    expect(bad.body.message).toContain(
      "event: 'nonexistent' is not expected. Allowed values are: [all, status, unread]",
    );
    expect(bad.body.message).toContain('unknown filter names: colour, size');

    const creds = await subscribe({
      name: 'c',
      pushEndpoint: 'https://user:pw@example.org/hook',
      resource: 'all',
      event: 'all',
    });
    expect(creds.status).toBe(400);
    expect(creds.body.message).toContain('pushEndpoint: must not carry credentials');
    expect(JSON.stringify(creds.body)).not.toContain('pw@');

    const missing = await subscribe({ name: 'x' });
    expect(missing.status).toBe(400);
    expect((missing.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual([
      'event',
      'pushEndpoint',
      'resource',
    ]);

    const withId = await subscribe({
      id: 5,
      name: 'x',
      pushEndpoint: 'http://127.0.0.1:1/',
      resource: 'all',
      event: 'all',
    });
    expect(withId.status).toBe(400);
    expect((withId.body.errors as { field: string }[]).map((e) => e.field)).toEqual(['id']);

    const wrongType = await subscribe({
      name: 7,
      pushEndpoint: 'http://127.0.0.1:1/',
      resource: 'all',
      event: 'all',
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.exception).toBe('ConstraintViolationException');

    const badFilter = await subscribe({
      name: 'x',
      pushEndpoint: 'http://127.0.0.1:1/',
      resource: 'all',
      event: 'all',
      filter: 'status',
    });
    expect(badFilter.status).toBe(400);
    expect((badFilter.body.errors as { field: string }[]).map((e) => e.field)).toEqual(['filter']);
  });

  it('creates, lists, reads, updates (re-pinging a new endpoint), and deletes', async () => {
    const a = await receiver();
    const b = await receiver();
    const created = await subscribe({
      name: 'CRUD',
      pushEndpoint: a.url,
      resource: 'messages',
      event: 'status',
    });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({
      id: expect.any(Number),
      name: 'CRUD',
      pushEndpoint: a.url,
      resource: 'messages',
      event: 'status',
      failing: false,
    });
    const id = created.body.id;

    const dup = await subscribe({ name: 'CRUD', pushEndpoint: a.url, resource: 'all', event: 'all' });
    expect(dup.status).toBe(400);
    expect(dup.body.exception).toBe('SubscriptionWithSameNameAndPushEndpointAlreadyExists');

    const page = await h.json<{ content: Sub[]; totalElements: number }>(
      'GET',
      '/api/subscriptions?size=100',
    );
    expect(page.status).toBe(200);
    expect(page.body.content.find((s) => s.id === id)).toEqual(created.body);

    const pingsBefore = b.requests.length;
    const upd = await h.fetch(`/api/subscriptions/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pushEndpoint: b.url, filter: 'status=LEST' }),
    });
    expect(upd.status).toBe(200);
    expect(await upd.text()).toBe('');
    expect(b.requests.length).toBe(pingsBefore + 1);
    expect(b.requests.at(-1)!.body.event).toBe('ping');
    const got = await h.json<Sub>('GET', `/api/subscriptions/${id}`);
    expect(got.body).toMatchObject({
      name: 'CRUD',
      pushEndpoint: b.url,
      filter: 'status=LEST',
      event: 'status',
    });

    b.answer = () => 500;
    const c = await receiver();
    c.answer = () => 404;
    const updBad = await h.json('PUT', `/api/subscriptions/${id}`, { pushEndpoint: c.url });
    expect(updBad.status).toBe(400);
    expect(updBad.body.exception).toBe('WebhookPushEndpointPingFailedException');
    expect((await h.json<Sub>('GET', `/api/subscriptions/${id}`)).body.pushEndpoint).toBe(b.url);

    const badEvent = await h.json('PUT', `/api/subscriptions/${id}`, { event: 'sometimes' });
    expect(badEvent.status).toBe(400);

    const gone = await h.json('GET', '/api/subscriptions/999999');
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({
      exception: 'SubscriptionNotFoundException',
      message: 'Subscription with id = 999999 was not found',
    });
    expect((await h.fetch(`/api/subscriptions/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await h.json('GET', `/api/subscriptions/${id}`)).status).toBe(404);
    expect((await h.fetch(`/api/subscriptions/${id}`, { method: 'DELETE' })).status).toBe(404);

    // The name and endpoint are free again once deleted.
    expect(
      (await subscribe({ name: 'CRUD', pushEndpoint: a.url, resource: 'all', event: 'all' })).status,
    ).toBe(200);
    expect((await h.fetch('/api/subscriptions', { method: 'DELETE' })).status).toBe(200);
    const empty = await h.json<{ content: Sub[]; totalElements: number }>('GET', '/api/subscriptions');
    expect(empty.body).toMatchObject({ content: [], totalElements: 0 });
  });

  it('keeps the secret sealed in Redis', async () => {
    const r = await receiver();
    const secret = 'plain-secret-never-stored-in-clear';
    const sub = await subscribe({ name: 'S', pushEndpoint: r.url, resource: 'all', event: 'all', secret });
    expect(sub.status).toBe(200);
    const raw = await h.redis.hgetall(`${h.prefix}:sub:${sub.body.id}`);
    expect(raw.secret).toMatch(/^v1\./);
    expect(JSON.stringify(raw)).not.toContain(secret);
    expect(r.requests[0]!.headers['x-eformidling-signature']).toBe(
      `sha256=${createHmac('sha256', secret).update(r.requests[0]!.raw).digest('hex')}`,
    );
  });
});
