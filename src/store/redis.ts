import { Redis, type RedisOptions } from 'ioredis';

/**
 * HTTP-side connections fail fast (the route answers 503); worker connections wait
 * (`maxRetriesPerRequest: null`, as BullMQ requires for blocking commands).
 */
export function createRedis(url: string, role: 'api' | 'worker', extra: RedisOptions = {}): Redis {
  const base: RedisOptions =
    role === 'api'
      ? // Auto-pipelining batches the commands concurrent requests issue in the same tick.
        {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: true,
          connectTimeout: 5000,
          commandTimeout: 5000,
          enableAutoPipelining: true,
        }
      : { maxRetriesPerRequest: null, enableOfflineQueue: true };
  return new Redis(url, { lazyConnect: false, ...base, ...extra });
}

/** Lua for the writes that must be atomic. Keys are built from the prefix (single-node Redis). */
export const SCRIPTS = {
  /** Creates conversation, OPPRETTET status and outgoing message at once; 0 if the messageId is taken. */
  createOutgoing: `
local P, mid, nowIso, nowMs = ARGV[1], ARGV[2], ARGV[5], ARGV[6]
if redis.call('EXISTS', P..'conv:mid:'..mid) == 1 or redis.call('EXISTS', P..'out:'..mid) == 1 then return 0 end
local convId = redis.call('INCR', P..'seq:conv')
local conv = cjson.decode(ARGV[3])
local flat = {'id', convId}
for k, v in pairs(conv) do flat[#flat+1] = k; flat[#flat+1] = tostring(v) end
redis.call('HSET', P..'conv:'..convId, unpack(flat))
redis.call('SET', P..'conv:mid:'..mid, convId)
redis.call('SADD', P..'conv:cid:'..conv['conversationId'], convId)
redis.call('ZADD', P..'conv:index', nowMs, convId)
local sid = redis.call('INCR', P..'seq:status')
redis.call('HSET', P..'status:'..sid, 'id', sid, 'lastUpdate', nowIso, 'ms', nowMs, 'status', 'OPPRETTET',
  'convId', convId, 'conversationId', conv['conversationId'], 'messageId', mid)
redis.call('HSET', P..'conv:'..convId..':status', 'OPPRETTET', sid)
redis.call('ZADD', P..'status:index', sid, sid)
redis.call('ZADD', P..'status:by:OPPRETTET', sid, sid)
redis.call('XADD', P..'status:events', 'MAXLEN', '~', '100000', '*', 'statusId', sid)
local msg = cjson.decode(ARGV[4])
flat = {'convId', convId}
for k, v in pairs(msg) do flat[#flat+1] = k; flat[#flat+1] = tostring(v) end
redis.call('HSET', P..'out:'..mid, unpack(flat))
redis.call('ZADD', P..'out:index', nowMs, mid)
-- ttl: every unfinished conversation is in the expiry index until a finishing status (see addStatus).
redis.call('ZADD', P..'ttl:due', msg['expiryMs'], mid)
return convId
`,
  /** Adds a status once per conversation; returns {1, id} when new, {0, id} when it was already there. */
  addStatus: `
local P, convId, status, desc, raw, nowIso, nowMs, finished, unpoll = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local ck = P..'conv:'..convId
if redis.call('EXISTS', ck) == 0 then return {-1, 0} end
local existing = redis.call('HGET', ck..':status', status)
if existing then return {0, tonumber(existing)} end
local sid = redis.call('INCR', P..'seq:status')
local c = redis.call('HMGET', ck, 'conversationId', 'messageId')
redis.call('HSET', P..'status:'..sid, 'id', sid, 'lastUpdate', nowIso, 'ms', nowMs, 'status', status,
  'convId', convId, 'conversationId', c[1], 'messageId', c[2])
if desc ~= '' then redis.call('HSET', P..'status:'..sid, 'description', desc) end
if raw ~= '' then redis.call('HSET', P..'status:'..sid, 'rawReceipt', raw) end
redis.call('HSET', ck..':status', status, sid)
redis.call('ZADD', P..'status:index', sid, sid)
redis.call('ZADD', P..'status:by:'..status, sid, sid)
redis.call('HSET', ck, 'lastUpdate', nowIso, 'lastUpdateMs', nowMs)
if finished == '1' then
  redis.call('HSET', ck, 'finished', '1')
  -- ttl: a finished conversation never expires (LEVERT, LEST, FEIL, LEVETID_UTLOPT, INNKOMMENDE_LEVERT).
  redis.call('ZREM', P..'ttl:due', c[2])
end
if unpoll == '1' then redis.call('HSET', ck, 'pollable', '0') end
redis.call('ZADD', P..'conv:index', nowMs, convId)
redis.call('XADD', P..'status:events', 'MAXLEN', '~', '100000', '*', 'statusId', sid)
return {1, sid}
`,
  /**
   * Registers an uploaded file (stored as dokumentnummer|primary|sealed entry): refuses when the message is gone (-1) or sent (-2), the name is taken (-3),
   * the message would exceed its size limit (-4) or a second primary document (-5); else the dokumentnummer.
   */
  addFile: `
local P, mid, field, sealed, size, maxTotal, primary, nowIso, nowMs = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local key = P..'out:'..mid
local state = redis.call('HGET', key, 'state')
if not state then return -1 end
if state ~= 'created' then return -2 end
if redis.call('HEXISTS', key..':files', field) == 1 then return -3 end
local total = tonumber(redis.call('HGET', key, 'totalBytes') or '0') + size
if total > maxTotal then return -4 end
-- The primary document is the one named by the SBD's hoveddokument (compared as HMACs).
if primary == '1' or redis.call('HGET', key, 'hovedHmac') == field then primary = '1' end
if primary == '1' and redis.call('HGET', key, 'hasPrimary') == '1' then return -5 end
local n = redis.call('HINCRBY', key, 'fileSeq', 1)
redis.call('HSET', key..':files', field, n..'|'..primary..'|'..sealed)
redis.call('HSET', key, 'totalBytes', total, 'lastUpdated', nowIso, 'lastUpdatedMs', nowMs)
if primary == '1' then redis.call('HSET', key, 'hasPrimary', '1') end
if ARGV[10] and ARGV[10] ~= '' then
  redis.call('HSET', key, 'arkivmelding', ARGV[10])
  local ck = P..'conv:'..redis.call('HGET', key, 'convId')
  redis.call('HSET', ck, 'messageTitle', ARGV[11], 'messageReference', ARGV[12], 'warnings', ARGV[13])
end
return n
`,
  /** Moves created -> queuing (or keeps queuing for a retried send); returns the state found. */
  claimSend: `
local key = ARGV[1]..'out:'..ARGV[2]
local state = redis.call('HGET', key, 'state')
if not state then return '' end
if state == 'created' then redis.call('HSET', key, 'state', 'queuing') end
return state
`,
  /** Removes a conversation with its statuses (rollback of a half-done multipart request). */
  purgeConversation: `
local P, convId, mid = ARGV[1], ARGV[2], ARGV[3]
local ck = P..'conv:'..convId
local cid = redis.call('HGET', ck, 'conversationId')
local st = redis.call('HGETALL', ck..':status')
for i = 1, #st, 2 do
  local sid = st[i+1]
  redis.call('DEL', P..'status:'..sid)
  redis.call('ZREM', P..'status:index', sid)
  redis.call('ZREM', P..'status:by:'..st[i], sid)
end
redis.call('DEL', ck, ck..':status', P..'conv:mid:'..mid)
if cid then redis.call('SREM', P..'conv:cid:'..cid, convId) end
redis.call('ZREM', P..'conv:index', convId)
return 1
`,
} as const;
