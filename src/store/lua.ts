import {
  ALLOWED_AFTER,
  BLOCKED_BY,
  conversationEffects,
  FINAL,
  STATUSES,
  type Status,
} from '../domain/status.js';

/**
 * Redis layout (every key under the configured prefix):
 *
 * - `conv:{id}` hash: one conversation with its statuses. Short field names keep the hash small (the API output
 *   is unchanged): c conversationId, m messageId, si senderIdentifier, ri receiverIdentifier, s sender and r receiver
 *   (only when not `0192:` + the identifier), p processIdentifier and d documentIdentifier (common URN starts packed
 *   as \x01 + a digit, see store.ts), mr messageReference (only when it differs from c), mt messageTitle
 *   (only when not empty), u lastUpdate in epoch ms, lu lastUpdate text (only when it is not u in Oslo time),
 *   e expiry, dir O|I, sv serviceIdentifier, f finished, pl pollable, w warnings JSON (only when not empty),
 *   x externalSystemReference (Digital Post: the Altinn correspondence id), no notificationOutcome (Digital Post,
 *   once known). Each status is `#{code}` = `{statusId}|{ms}`, with `#{code}:d` description,
 *   `#{code}:r` raw receipt and `#{code}:t` lastUpdate text when given.
 * - Lookups in hashes bucketed by the last three characters of the id (small hashes stay compact listpacks):
 *   `conv:m:{bucket}` messageId → conversation id, `conv:c:{bucket}` conversationId → conversation ids (`1,7`).
 * - Conversation indexes, scored by lastUpdate ms, member the conversation id: `conv:st:{dir}{finished}{pollable}`
 *   and `conv:rcv:{receiverIdentifier}:{dir}{finished}{pollable}`. A conversation is in exactly one of each kind,
 *   so all conversations (or one receiver's) are the union of eight, and direction, finished and pollable filters
 *   narrow the union. A page over a union finds its first score by bisection over the counts.
 * - Status index: `status:by:{STATUS}` (score statusId, member convId). All statuses in id order are the union
 *   of the ten; a page finds its first id by bisection over their counts. A time range reads the conversations
 *   updated since its start, which hold every status written in it.
 * - `status:events` stream: `{ statusId }` for every new status.
 * - `ttl:due` sorted set: every unfinished conversation with an expiry (member the conversation id), scored by its
 *   expiry in ms; a finishing status takes it out (the TTL sweep reads it, src/workers/ttl.ts).
 * - `out:{messageId}` hash (routing facts), `out:{messageId}:sbd` (sealed SBD), `out:{messageId}:ark` (sealed
 *   arkivmelding summary), `out:{messageId}:files`; indexes `out:index` and `out:rcv:{receiverIdentifier}`
 *   scored by creation ms. A Digital Post message is deleted with its files once it is SENDT (or FEIL or
 *   LEVETID_UTLOPT before that); the conversation and its statuses stay.
 * - Digital Post (src/store/delivery.ts): `dpv:{messageId}` hash with what polling, the kvittering and the unread
 *   watch need after the message is gone (c correspondenceId, s sent ms, r reminder, d details stage, k kvittering
 *   made, cf confidential; a attempts and e last error when an attempt failed), deleted when polling ends; `dpv:poll`
 *   sorted set of messageIds scored by the next poll time.
 */

/** The expiry index (see above). */
export const TTL_DUE_KEY = 'ttl:due';

/** One letter per status, for the hash fields of a conversation and the index members. */
export const STATUS_CODE: Readonly<Record<Status, string>> = {
  OPPRETTET: 'O',
  SENDT: 'S',
  MOTTATT: 'M',
  LEVERT: 'L',
  LEST: 'R',
  FEIL: 'F',
  ANNET: 'A',
  INNKOMMENDE_MOTTATT: 'I',
  INNKOMMENDE_LEVERT: 'J',
  LEVETID_UTLOPT: 'X',
};
export const STATUS_OF_CODE: Readonly<Record<string, Status>> = Object.fromEntries(
  STATUSES.map((s) => [STATUS_CODE[s], s]),
);

const lit = (s: string) => `'${s}'`;
const set = (items: readonly (string | null)[]) =>
  `{${items.map((i) => `[${lit(i ?? '')}]=true`).join(', ')}}`;

/** The transition table and effects from src/domain/status.ts, written as Lua (the one source stays in TS). */
function tables(): string {
  const allowed = STATUSES.map((s) => `${s}=${set(ALLOWED_AFTER[s])}`).join(',\n  ');
  const blocked = STATUSES.filter((s) => BLOCKED_BY[s])
    .map((s) => `${s}=${set(BLOCKED_BY[s]!)}`)
    .join(', ');
  const effects = STATUSES.map((s) => {
    const fx = conversationEffects(s);
    return `${s}={f=${fx.finished === true}, unpoll=${fx.pollable === false}}`;
  }).join(',\n  ');
  return `
local STATUS_ORDER = {${STATUSES.map(lit).join(', ')}}
local CODE = {${STATUSES.map((s) => `${s}=${lit(STATUS_CODE[s])}`).join(', ')}}
local STATUS_FIELDS = {${STATUSES.map((s) => lit(`#${STATUS_CODE[s]}`)).join(', ')}}
local ALLOWED = {
  ${allowed}
}
local FINAL = ${set(FINAL)}
local BLOCKED = {${blocked}}
local EFFECTS = {
  ${effects}
}`;
}

const STATUS_FUNCTIONS = `
-- has: status name -> stored value; the same rules as transition() in src/domain/status.ts.
local function decide(has, nxt)
  if not ALLOWED[nxt] then return 'refused' end
  if has[nxt] then return 'duplicate' end
  local any = false
  for s in pairs(has) do
    any = true
    if FINAL[s] then return 'refused' end
  end
  local b = BLOCKED[nxt]
  if b then for s in pairs(has) do if b[s] then return 'refused' end end end
  local a = ALLOWED[nxt]
  if not any then return a[''] and 'new' or 'refused' end
  for s in pairs(has) do if a[s] then return 'new' end end
  return 'refused'
end

local function statusesIn(values)
  local has = {}
  for i, name in ipairs(STATUS_ORDER) do if values[i] then has[name] = values[i] end end
  return has
end
`;

const LOOKUP_FUNCTIONS = `
local function bucket(id) return string.sub(id, -3) end

local function convOfMessage(P, mid) return redis.call('HGET', P..'conv:m:'..bucket(mid), mid) end

local function convsOfConversation(P, cid)
  local out = {}
  local v = redis.call('HGET', P..'conv:c:'..bucket(cid), cid)
  if v then for id in string.gmatch(v, '%d+') do out[#out+1] = id end end
  return out
end

local function addToConversation(P, cid, convId)
  local k = P..'conv:c:'..bucket(cid)
  local v = redis.call('HGET', k, cid)
  redis.call('HSET', k, cid, v and (v..','..convId) or convId)
end

local function removeFromConversation(P, cid, convId)
  local rest = {}
  for _, id in ipairs(convsOfConversation(P, cid)) do if id ~= tostring(convId) then rest[#rest+1] = id end end
  local k = P..'conv:c:'..bucket(cid)
  if #rest == 0 then redis.call('HDEL', k, cid) else redis.call('HSET', k, cid, table.concat(rest, ',')) end
end
`;

const INDEX_FUNCTIONS = `
local function reindexConversation(P, convId, ms, ri, dir, oldF, oldPl, f, pl)
  local moved = oldF and (oldF ~= f or oldPl ~= pl)
  for _, base in ipairs({P..'conv:st:', ri ~= '' and (P..'conv:rcv:'..ri..':') or false}) do
    if base then
      if moved then redis.call('ZREM', base..dir..oldF..oldPl, convId) end
      redis.call('ZADD', base..dir..f..pl, ms, convId)
    end
  end
end

local function indexStatus(P, convId, name, sid)
  redis.call('ZADD', P..'status:by:'..name, sid, convId)
  redis.call('XADD', P..'status:events', 'MAXLEN', '~', '100000', '*', 'statusId', sid)
end
`;

const PAGE_FUNCTIONS = `
-- Rows are {score, member}; ordered by score, then member bytes (Redis's own order), reversed for desc.
local function sortRows(rows, rev)
  table.sort(rows, function(a, b)
    if a[1] ~= b[1] then if rev then return a[1] > b[1] end return a[1] < b[1] end
    if rev then return a[2] > b[2] end
    return a[2] < b[2]
  end)
end

-- Every member of the keys within [min, max], as rows.
local function zcollect(keys, min, max)
  local rows = {}
  for _, k in ipairs(keys) do
    local r = redis.call('ZRANGE', k, min, max, 'BYSCORE', 'WITHSCORES')
    for i = 1, #r, 2 do rows[#rows+1] = {tonumber(r[i+1]), r[i]} end
  end
  return rows
end

-- All conversations: the union of the eight direction/finished/pollable indexes.
local function allConversationKeys(P)
  local keys = {}
  for _, d in ipairs({'O', 'I'}) do
    for _, f in ipairs({'0', '1'}) do
      for _, pl in ipairs({'0', '1'}) do keys[#keys+1] = P..'conv:st:'..d..f..pl end
    end
  end
  return keys
end

-- A page over the union of sorted sets (disjoint members, integer scores) within [min, max], ordered by score,
-- then member. Counting is O(log n) per key; the page's first score is found by bisection over the counts, so a
-- page reads O(keys * (page + ties) + keys * log n * log(score range)) entries.
local function zpage(keys, min, max, rev, off, cnt)
  local total = 0
  for _, k in ipairs(keys) do total = total + redis.call('ZCOUNT', k, min, max) end
  if #keys == 1 then
    if rev then return total, redis.call('ZRANGE', keys[1], max, min, 'BYSCORE', 'REV', 'LIMIT', off, cnt) end
    return total, redis.call('ZRANGE', keys[1], min, max, 'BYSCORE', 'LIMIT', off, cnt)
  end
  if off >= total then return total, {} end
  local lo, hi
  for _, k in ipairs(keys) do
    local first = redis.call('ZRANGE', k, min, max, 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
    local last = redis.call('ZRANGE', k, max, min, 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES')
    if first[2] then
      local a, b = tonumber(first[2]), tonumber(last[2])
      if not lo or a < lo then lo = a end
      if not hi or b > hi then hi = b end
    end
  end
  local function count(a, b)
    local n = 0
    for _, k in ipairs(keys) do n = n + redis.call('ZCOUNT', k, a, b) end
    return n
  end
  -- t: the score of the page's first entry in the requested order.
  while lo < hi do
    if rev then
      local mid = math.ceil((lo + hi) / 2)
      if count(mid, max) >= off + 1 then lo = mid else hi = mid - 1 end
    else
      local mid = math.floor((lo + hi) / 2)
      if count(min, mid) >= off + 1 then hi = mid else lo = mid + 1 end
    end
  end
  local t = lo
  local before = rev and count('('..t, max) or count(min, '('..t)
  local need = off - before + cnt
  local rows = {}
  for _, k in ipairs(keys) do
    local r
    if rev then r = redis.call('ZRANGE', k, t, min, 'BYSCORE', 'REV', 'LIMIT', 0, need, 'WITHSCORES')
    else r = redis.call('ZRANGE', k, t, max, 'BYSCORE', 'LIMIT', 0, need, 'WITHSCORES') end
    for i = 1, #r, 2 do rows[#rows+1] = {tonumber(r[i+1]), r[i]} end
  end
  sortRows(rows, rev)
  local ids = {}
  for i = off - before + 1, math.min(off - before + cnt, #rows) do ids[#ids+1] = rows[i][2] end
  return total, ids
end
`;

/**
 * A new conversation with its OPPRETTET status, looked up by messageId and in every index; both directions use it.
 * Needs the lookup and index functions.
 */
const NEW_CONVERSATION = `
local function newConversation(P, mid, convJson, nowMs, ri, cid, dir)
  local convId = redis.call('INCR', P..'seq:conv')
  local sid = redis.call('INCR', P..'seq:status')
  local conv = cjson.decode(convJson)
  conv[#conv+1] = '#${STATUS_CODE.OPPRETTET}'; conv[#conv+1] = sid..'|'..nowMs
  redis.call('HSET', P..'conv:'..convId, unpack(conv))
  redis.call('HSET', P..'conv:m:'..bucket(mid), mid, convId)
  addToConversation(P, cid, convId)
  reindexConversation(P, convId, nowMs, ri, dir, nil, nil, '0', '0')
  indexStatus(P, convId, 'OPPRETTET', sid)
  return convId
end
`;

/** Lua prepended to the scripts, in parts so each script defines only what it uses. */
export const LUA = {
  /** Lookups, index upkeep and newConversation(), for the scripts that create conversations. */
  create: `${LOOKUP_FUNCTIONS}${INDEX_FUNCTIONS}${NEW_CONVERSATION}`,
  /** The transition table, status codes and decide(). */
  status: `${tables()}\n${STATUS_FUNCTIONS}`,
  /** messageId and conversationId lookups. */
  lookups: LOOKUP_FUNCTIONS,
  /** Index upkeep for conversations and statuses. */
  index: INDEX_FUNCTIONS,
  /** Paging over sorted sets. */
  page: PAGE_FUNCTIONS,
} as const;
