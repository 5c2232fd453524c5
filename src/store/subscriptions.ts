import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Crypto } from './crypto.js';

export interface LastDelivery {
  ts: string;
  httpStatus?: number;
  error?: string;
}

export interface Subscription {
  id: number;
  name: string;
  pushEndpoint: string;
  resource: string;
  event: string;
  filter?: string;
  /** True after an event exhausted its attempts, false again after the next success. */
  failing: boolean;
  lastDelivery?: LastDelivery;
}

export interface NewSubscription {
  name: string;
  pushEndpoint: string;
  resource: string;
  event: string;
  filter?: string | undefined;
  secret?: string | undefined;
}

/** One key per (name, pushEndpoint) keeps duplicates out without reading every subscription. */
const dupKey = (name: string, endpoint: string) =>
  createHash('sha256').update(`${name}\n${endpoint}`, 'utf8').digest('hex').slice(0, 32);

const FIELDS = [
  'id',
  'name',
  'pushEndpoint',
  'resource',
  'event',
  'filter',
  'failing',
  'lastDelivery',
] as const;

/**
 * Webhook subscriptions in Redis: `sub:{id}` hashes, `sub:index` (sorted by id) and `sub:dup:{hash}`.
 * The secret is sealed and never read back out through the API.
 */
export class SubscriptionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly crypto: Crypto,
  ) {}

  private k(s: string): string {
    return `${this.prefix}${s}`;
  }

  private toSubscription(vals: (string | null)[]): Subscription | null {
    const [id, name, pushEndpoint, resource, event, filter, failing, lastDelivery] = vals;
    if (!id) return null;
    return {
      id: Number(id),
      name: name ?? '',
      pushEndpoint: pushEndpoint ?? '',
      resource: resource ?? 'all',
      event: event ?? 'all',
      ...(filter ? { filter } : {}),
      failing: failing === '1',
      ...(lastDelivery ? { lastDelivery: JSON.parse(lastDelivery) as LastDelivery } : {}),
    };
  }

  /** null when a subscription with the same name and push endpoint exists. */
  async create(s: NewSubscription): Promise<Subscription | null> {
    const dk = this.k(`sub:dup:${dupKey(s.name, s.pushEndpoint)}`);
    if ((await this.redis.set(dk, 'pending', 'NX')) !== 'OK') return null;
    const id = await this.redis.incr(this.k('seq:sub'));
    await this.redis
      .multi()
      .hset(this.k(`sub:${id}`), {
        id,
        name: s.name,
        pushEndpoint: s.pushEndpoint,
        resource: s.resource,
        event: s.event,
        failing: '0',
        ...(s.filter ? { filter: s.filter } : {}),
        ...(s.secret ? { secret: this.crypto.seal(s.secret) } : {}),
      })
      .zadd(this.k('sub:index'), id, id)
      .set(dk, String(id))
      .exec();
    return (await this.get(id))!;
  }

  async get(id: number): Promise<Subscription | null> {
    return this.toSubscription(await this.redis.hmget(this.k(`sub:${id}`), ...FIELDS));
  }

  /** The subscription and its secret in one read, for delivery. */
  async forDelivery(id: number): Promise<{ sub: Subscription; secret: string | null } | null> {
    const vals = await this.redis.hmget(this.k(`sub:${id}`), ...FIELDS, 'secret');
    const sub = this.toSubscription(vals.slice(0, FIELDS.length));
    if (!sub) return null;
    const sealed = vals[FIELDS.length];
    return { sub, secret: sealed ? this.crypto.open(sealed) : null };
  }

  async secretOf(id: number): Promise<string | null> {
    const sealed = await this.redis.hget(this.k(`sub:${id}`), 'secret');
    return sealed ? this.crypto.open(sealed) : null;
  }

  async count(): Promise<number> {
    return this.redis.zcard(this.k('sub:index'));
  }

  async list(page: number, size: number): Promise<Subscription[]> {
    const ids = await this.redis.zrange(this.k('sub:index'), page * size, page * size + size - 1);
    return this.load(ids);
  }

  /** Every subscription (they are few: one per fagsystem endpoint). */
  async all(): Promise<Subscription[]> {
    return this.load(await this.redis.zrange(this.k('sub:index'), 0, -1));
  }

  private async load(ids: string[]): Promise<Subscription[]> {
    if (!ids.length) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(this.k(`sub:${id}`), ...FIELDS);
    const res = (await pipe.exec()) ?? [];
    return res.map(([, v]) => this.toSubscription(v as (string | null)[])).filter((s) => s !== null);
  }

  /** Partial update; 'duplicate' when the new name and endpoint belong to another subscription. */
  async update(id: number, patch: Partial<NewSubscription>): Promise<'ok' | 'missing' | 'duplicate'> {
    const cur = await this.get(id);
    if (!cur) return 'missing';
    const name = patch.name ?? cur.name;
    const endpoint = patch.pushEndpoint ?? cur.pushEndpoint;
    const oldDk = this.k(`sub:dup:${dupKey(cur.name, cur.pushEndpoint)}`);
    const newDk = this.k(`sub:dup:${dupKey(name, endpoint)}`);
    if (newDk !== oldDk && (await this.redis.set(newDk, String(id), 'NX')) !== 'OK') return 'duplicate';
    const m = this.redis.multi();
    const fields: Record<string, string> = {};
    if (patch.name !== undefined) fields.name = patch.name;
    if (patch.pushEndpoint !== undefined) fields.pushEndpoint = patch.pushEndpoint;
    if (patch.resource !== undefined) fields.resource = patch.resource;
    if (patch.event !== undefined) fields.event = patch.event;
    if (patch.filter !== undefined) {
      if (patch.filter) fields.filter = patch.filter;
      else m.hdel(this.k(`sub:${id}`), 'filter');
    }
    if (patch.secret !== undefined) {
      if (patch.secret) fields.secret = this.crypto.seal(patch.secret);
      else m.hdel(this.k(`sub:${id}`), 'secret');
    }
    if (Object.keys(fields).length) m.hset(this.k(`sub:${id}`), fields);
    if (newDk !== oldDk) m.del(oldDk);
    await m.exec();
    return 'ok';
  }

  async delete(id: number): Promise<boolean> {
    const cur = await this.get(id);
    if (!cur) return false;
    await this.redis
      .multi()
      .del(this.k(`sub:${id}`), this.k(`sub:dup:${dupKey(cur.name, cur.pushEndpoint)}`))
      .zrem(this.k('sub:index'), id)
      .exec();
    return true;
  }

  async deleteAll(): Promise<void> {
    for (const id of await this.redis.zrange(this.k('sub:index'), 0, -1)) await this.delete(Number(id));
  }

  /** Records a delivery outcome; `exhausted` marks the subscription failing, a success clears it. */
  async recordDelivery(id: number, d: LastDelivery, outcome: 'ok' | 'retrying' | 'exhausted'): Promise<void> {
    const failing = outcome === 'ok' ? '0' : outcome === 'exhausted' ? '1' : '';
    // Only while the subscription exists: a delivery finishing after a delete must not bring back a fragment.
    await this.redis.eval(
      "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'lastDelivery', ARGV[1]); if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'failing', ARGV[2]) end end",
      1,
      this.k(`sub:${id}`),
      JSON.stringify(d),
      failing,
    );
  }
}
