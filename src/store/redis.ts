import { Redis, type RedisOptions } from 'ioredis';
import { LUA, TTL_DUE_KEY } from './lua.js';

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

/**
 * Lua for the writes that must be atomic and for the list pages (one round trip each). Keys are built from the
 * prefix (single-node Redis). The key layout and the short hash field names are described in src/store/lua.ts.
 */
export const SCRIPTS = {
  /** Creates conversation, OPPRETTET status and outgoing message at once; 0 if the messageId is taken. */
  createOutgoing: `${LUA.create}
local P, mid, nowMs, ri, cid = ARGV[1], ARGV[2], ARGV[6], ARGV[7], ARGV[8]
if convOfMessage(P, mid) or redis.call('EXISTS', P..'out:'..mid) == 1 then return 0 end
local convId = newConversation(P, mid, ARGV[3], nowMs, ri, cid, 'O')
local msg = cjson.decode(ARGV[4])
msg[#msg+1] = 'convId'; msg[#msg+1] = convId
redis.call('HSET', P..'out:'..mid, unpack(msg))
redis.call('SET', P..'out:'..mid..':sbd', ARGV[5])
redis.call('ZADD', P..'out:index', nowMs, mid)
redis.call('ZADD', P..'out:rcv:'..ri, nowMs, mid)
-- ttl: every unfinished conversation is in the expiry index until a finishing status (see addStatus).
if ARGV[9] ~= '' then redis.call('ZADD', P..'${TTL_DUE_KEY}', ARGV[9], convId) end
return convId
`,
  /**
   * Decides and writes a status in one step: {1, id} when new, {0, id} when it was already there, {-1, 0} for an
   * unknown message, {-2, 0} when the transition table refuses it. Two writers cannot both win a conflict.
   */
  addStatus: `${LUA.status}${LUA.lookups}${LUA.index}
local P, mid, status, desc, raw, nowMs, text = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local convId = convOfMessage(P, mid)
if not convId then return {-1, 0} end
local ck = P..'conv:'..convId
local has = statusesIn(redis.call('HMGET', ck, unpack(STATUS_FIELDS)))
local verdict = decide(has, status)
if verdict == 'duplicate' then return {0, tonumber(string.match(has[status], '^(%d+)'))} end
if verdict == 'refused' then return {-2, 0} end
local cur = redis.call('HMGET', ck, 'f', 'pl', 'ri', 'dir')
local f, pl = cur[1] or '0', cur[2] or '0'
local nf, npl = f, pl
local fx = EFFECTS[status]
if fx then
  if fx.f then nf = '1' end
  if fx.unpoll then npl = '0' end
end
-- ttl: a finished conversation never expires (LEVERT, LEST, FEIL, LEVETID_UTLOPT, INNKOMMENDE_LEVERT).
if nf == '1' then redis.call('ZREM', P..'${TTL_DUE_KEY}', convId) end
local sid = redis.call('INCR', P..'seq:status')
local field = '#'..CODE[status]
local w = {field, sid..'|'..nowMs, 'u', nowMs, 'f', nf, 'pl', npl}
if desc ~= '' then w[#w+1] = field..':d'; w[#w+1] = desc end
if raw ~= '' then w[#w+1] = field..':r'; w[#w+1] = raw end
if text ~= '' then w[#w+1] = field..':t'; w[#w+1] = text; w[#w+1] = 'lu'; w[#w+1] = text
else redis.call('HDEL', ck, 'lu') end
redis.call('HSET', ck, unpack(w))
reindexConversation(P, convId, nowMs, cur[3] or '', cur[4] or 'O', f, pl, nf, npl)
indexStatus(P, convId, status, sid)
return {1, sid}
`,
  /** A page of the expiry index due by ARGV[2]: {convId, messageId or ''} per entry, by expiry. */
  expiryDue: `
local P = ARGV[1]
local out = {}
for _, c in ipairs(redis.call('ZRANGE', P..'${TTL_DUE_KEY}', '-inf', ARGV[2], 'BYSCORE', 'LIMIT', ARGV[3], ARGV[4])) do
  out[#out+1] = {c, redis.call('HGET', P..'conv:'..c, 'm') or ''}
end
return out
`,
  /** Statuses by id (ARGV[2..]): per status found {statusId, convId, the conversation hash}. */
  statusesById: `${LUA.status}
local P = ARGV[1]
local out = {}
for i = 2, #ARGV do
  for _, name in ipairs(STATUS_ORDER) do
    local c = redis.call('ZRANGE', P..'status:by:'..name, ARGV[i], ARGV[i], 'BYSCORE', 'LIMIT', 0, 1)[1]
    if c then
      out[#out+1] = {ARGV[i], c, redis.call('HGETALL', P..'conv:'..c)}
      break
    end
  end
end
return out
`,
  /** The transition verdict alone, for the test that checks Lua and TypeScript agree: one verdict per ARGV[2..]. */
  decideTransitions: `${LUA.status}
local has = {}
for name in string.gmatch(ARGV[1], '[^,]+') do has[name] = '1' end
local out = {}
for i = 2, #ARGV do out[#out+1] = decide(has, ARGV[i]) end
return out
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
  redis.call('SET', key..':ark', ARGV[10])
  local ck = P..'conv:'..redis.call('HGET', key, 'convId')
  local cid = redis.call('HGET', ck, 'c')
  local w = {}
  if ARGV[11] ~= '' then w[#w+1] = 'mt'; w[#w+1] = ARGV[11] else redis.call('HDEL', ck, 'mt') end
  if ARGV[12] ~= cid then w[#w+1] = 'mr'; w[#w+1] = ARGV[12] else redis.call('HDEL', ck, 'mr') end
  if ARGV[13] ~= '[]' then w[#w+1] = 'w'; w[#w+1] = ARGV[13] else redis.call('HDEL', ck, 'w') end
  if #w > 0 then redis.call('HSET', ck, unpack(w)) end
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
  /** Removes an outgoing message and its index entries (conversation and statuses stay). */
  deleteMessage: `
local P, mid = ARGV[1], ARGV[2]
local key = P..'out:'..mid
local ri = redis.call('HGET', key, 'receiverIdentifier')
redis.call('DEL', key, key..':files', key..':sbd', key..':ark')
redis.call('ZREM', P..'out:index', mid)
if ri then redis.call('ZREM', P..'out:rcv:'..ri, mid) end
return 1
`,
  /**
   * Digital Post facts on a conversation: ARGV[3] externalSystemReference ('' keeps it), ARGV[4] pollable '1'/'0'
   * ('' keeps it). A finished conversation does not become pollable; a change moves it between the list indexes.
   * Returns the conversation id, 0 when unknown.
   */
  setDelivery: `${LUA.lookups}${LUA.index}
local P, mid, x, pl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local convId = convOfMessage(P, mid)
if not convId then return 0 end
local ck = P..'conv:'..convId
local cur = redis.call('HMGET', ck, 'c', 'f', 'pl', 'ri', 'dir', 'u')
if not cur[1] then return 0 end
local f, old = cur[2] or '0', cur[3] or '0'
if x ~= '' then redis.call('HSET', ck, 'x', x) end
local npl = old
if pl == '0' or (pl == '1' and f ~= '1') then npl = pl end
if npl ~= old then
  redis.call('HSET', ck, 'pl', npl)
  reindexConversation(P, convId, cur[6] or '0', cur[4] or '', cur[5] or 'O', f, old, f, npl)
end
return tonumber(convId)
`,
  /** Appends warnings (ARGV[3], JSON) to conversation ARGV[2], once per code; returns how many were added. */
  addWarnings: `
local ck = ARGV[1]..'conv:'..ARGV[2]
if redis.call('EXISTS', ck) == 0 then return 0 end
local raw = redis.call('HGET', ck, 'w')
local list = (raw and raw ~= '') and cjson.decode(raw) or {}
local seen = {}
for _, w in ipairs(list) do seen[w.code or ''] = true end
local added = 0
for _, w in ipairs(cjson.decode(ARGV[3])) do
  if not seen[w.code] then list[#list+1] = w; seen[w.code] = true; added = added + 1 end
end
if added > 0 then redis.call('HSET', ck, 'w', cjson.encode(list)) end
return added
`,
  /** Sets one plain field (ARGV[3] = ARGV[4]) of conversation ARGV[2] if it exists. */
  setConversationField: `
local ck = ARGV[1]..'conv:'..ARGV[2]
if redis.call('EXISTS', ck) == 0 then return 0 end
redis.call('HSET', ck, ARGV[3], ARGV[4])
return 1
`,
  /** Removes a conversation with its statuses and index entries (rollback of a half-done multipart request). */
  purgeConversation: `${LUA.status}${LUA.lookups}
local P, convId, mid = ARGV[1], ARGV[2], ARGV[3]
local ck = P..'conv:'..convId
local c = redis.call('HMGET', ck, 'c', 'ri', 'dir', 'f', 'pl')
local has = statusesIn(redis.call('HMGET', ck, unpack(STATUS_FIELDS)))
for name in pairs(has) do redis.call('ZREM', P..'status:by:'..name, convId) end
redis.call('DEL', ck)
redis.call('HDEL', P..'conv:m:'..bucket(mid), mid)
if c[1] then removeFromConversation(P, c[1], convId) end
local facet = (c[3] or 'O')..(c[4] or '0')..(c[5] or '0')
if c[2] then redis.call('ZREM', P..'conv:rcv:'..c[2]..':'..facet, convId) end
redis.call('ZREM', P..'conv:st:'..facet, convId)
redis.call('ZREM', P..'${TTL_DUE_KEY}', convId)
return 1
`,
  /** One page of conversations with their hashes: see PAGE_PRELUDE for the query. */
  conversationPage: `${LUA.lookups}${LUA.page}
local P, q = ARGV[1], cjson.decode(ARGV[2])
local cands
if q.kind == 'mid' then
  local id = convOfMessage(P, q.value)
  cands = id and {id} or {}
elseif q.kind == 'cid' then
  cands = convsOfConversation(P, q.value)
end
local keys = {}
for i, k in ipairs(q.keys or {}) do keys[i] = P..k end
if q.all then keys = allConversationKeys(P) end
local total, ids
-- Fields left out of the hash when they follow from another: messageReference = conversationId,
-- sender / receiver = 0192:{identifier}.
local DERIVED = {mr = {'c', ''}, s = {'si', '0192:'}, r = {'ri', '0192:'}}
local function keep(id)
  if #q.eq == 0 and not cands then return true end
  local fields = {'u'}
  for i, e in ipairs(q.eq) do fields[i+1] = e[1] end
  local from = {}
  for i, e in ipairs(q.eq) do
    if DERIVED[e[1]] then fields[#fields+1] = DERIVED[e[1]][1]; from[i] = #fields end
  end
  local v = redis.call('HMGET', P..'conv:'..id, unpack(fields))
  if not v[1] then return false end
  if cands then
    local u = tonumber(v[1])
    if q.min ~= '-inf' and u < tonumber(q.min) then return false end
    if q.max ~= '+inf' and u > tonumber(q.max) then return false end
  end
  for i, e in ipairs(q.eq) do
    local have = v[i+1]
    if not have then
      if from[i] then have = DERIVED[e[1]][2]..(v[from[i]] or '') else have = e[3] or '' end
    end
    if have ~= e[2] then return false end
  end
  return true
end
if not cands and #q.eq == 0 and not q.byId then
  total, ids = zpage(keys, q.min, q.max, q.rev, q.off, q.cnt)
else
  local rows = {}
  if cands then
    for _, id in ipairs(cands) do
      if keep(id) then rows[#rows+1] = {tonumber(redis.call('HGET', P..'conv:'..id, 'u')), id} end
    end
  else
    for _, r in ipairs(zcollect(keys, q.min, q.max)) do if keep(r[2]) then rows[#rows+1] = r end end
  end
  total = #rows
  if q.byId then
    table.sort(rows, function(a, b) if q.rev then return tonumber(a[2]) > tonumber(b[2]) end return tonumber(a[2]) < tonumber(b[2]) end)
  else sortRows(rows, q.rev) end
  ids = {}
  for i = q.off + 1, math.min(q.off + q.cnt, #rows) do ids[#ids+1] = rows[i][2] end
end
local out = {total}
for _, id in ipairs(ids) do
  out[#out+1] = id
  out[#out+1] = redis.call('HGETALL', P..'conv:'..id)
end
return out
`,
  /** One page of statuses: {total, then per status sid, convId, status code, sid|ms, conversationId, messageId, description, raw receipt, text}. */
  statusPage: `${LUA.status}${LUA.lookups}${LUA.page}
local P, q = ARGV[1], cjson.decode(ARGV[2])
local function row(convId, code)
  local f = '#'..code
  local v = redis.call('HMGET', P..'conv:'..convId, f, 'c', 'm', f..':d', f..':r', f..':t')
  if not v[1] then return nil end
  local sid, ms = string.match(v[1], '^(%d+)|(%d+)')
  return {tonumber(sid), tonumber(ms), convId, code, v[2], v[3], v[4] or '', v[5] or '', v[6] or ''}
end
local names = q.status and {q.status} or STATUS_ORDER
local keys = {}
for i, name in ipairs(names) do keys[i] = P..'status:by:'..name end
local total, rows
if q.kind == 'index' then
  -- In id order from the per-status indexes: O(log n) per index to count and to find the page's first id.
  total = 0
  for _, k in ipairs(keys) do total = total + redis.call('ZCARD', k) end
  local entries = {}
  if #keys == 1 then
    local ms = q.rev and redis.call('ZRANGE', keys[1], q.off, q.off + q.cnt - 1, 'REV', 'WITHSCORES')
      or redis.call('ZRANGE', keys[1], q.off, q.off + q.cnt - 1, 'WITHSCORES')
    for i = 1, #ms, 2 do entries[#entries+1] = {tonumber(ms[i+1]), ms[i], CODE[names[1]]} end
  elseif q.off < total then
    local function count(s)
      local n = 0
      for _, k in ipairs(keys) do
        if q.rev then n = n + redis.call('ZCOUNT', k, s, '+inf') else n = n + redis.call('ZCOUNT', k, '-inf', s) end
      end
      return n
    end
    local lo, hi = 1, tonumber(redis.call('GET', P..'seq:status') or '0')
    while lo < hi do
      if q.rev then
        local mid = math.ceil((lo + hi) / 2)
        if count(mid) >= q.off + 1 then lo = mid else hi = mid - 1 end
      else
        local mid = math.floor((lo + hi) / 2)
        if count(mid) >= q.off + 1 then hi = mid else lo = mid + 1 end
      end
    end
    for i, k in ipairs(keys) do
      local r = q.rev and redis.call('ZRANGE', k, lo, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, q.cnt, 'WITHSCORES')
        or redis.call('ZRANGE', k, lo, '+inf', 'BYSCORE', 'LIMIT', 0, q.cnt, 'WITHSCORES')
      for j = 1, #r, 2 do entries[#entries+1] = {tonumber(r[j+1]), r[j], CODE[names[i]]} end
    end
    table.sort(entries, function(a, b) if q.rev then return a[1] > b[1] end return a[1] < b[1] end)
  end
  rows = {}
  for i = 1, math.min(q.cnt, #entries) do
    local r = row(entries[i][2], entries[i][3])
    if r then rows[#rows+1] = r end
  end
else
  local all = {}
  local function add(convId, code) local r = row(convId, code) if r then all[#all+1] = r end end
  local function addAllOf(convs)
    for _, convId in ipairs(convs) do
      local v = redis.call('HMGET', P..'conv:'..convId, unpack(STATUS_FIELDS))
      for i, name in ipairs(STATUS_ORDER) do if v[i] then add(convId, CODE[name]) end end
    end
  end
  if q.kind == 'id' then
    for i, k in ipairs(keys) do
      for _, convId in ipairs(redis.call('ZRANGE', k, q.value, q.value, 'BYSCORE')) do add(convId, CODE[names[i]]) end
    end
  elseif q.kind == 'mid' then
    local id = convOfMessage(P, q.value)
    addAllOf(id and {id} or {})
  elseif q.kind == 'cid' then
    addAllOf(convsOfConversation(P, q.value))
  elseif q.kind == 'range' then
    -- A status written at t leaves its conversation's lastUpdate at t or later.
    local convs = {}
    for _, r in ipairs(zcollect(allConversationKeys(P), q.from, '+inf')) do convs[#convs+1] = r[2] end
    addAllOf(convs)
  else
    for i, k in ipairs(keys) do
      for _, convId in ipairs(redis.call('ZRANGE', k, 0, -1)) do add(convId, CODE[names[i]]) end
    end
  end
  local code = q.status and CODE[q.status]
  local lo, hi = tonumber(q.from), tonumber(q.to)
  rows = {}
  for _, r in ipairs(all) do
    local ok = (not code or r[4] == code) and (not lo or (r[2] >= lo and r[2] <= hi))
    for _, e in ipairs(q.eq) do
      if (e[1] == 'c' and r[5] ~= e[2]) or (e[1] == 'm' and r[6] ~= e[2]) then ok = false end
    end
    if ok then rows[#rows+1] = r end
  end
  total = #rows
  table.sort(rows, function(a, b)
    if q.byMs and a[2] ~= b[2] then if q.rev then return a[2] > b[2] end return a[2] < b[2] end
    if q.rev then return a[1] > b[1] end
    return a[1] < b[1]
  end)
  local page = {}
  for i = q.off + 1, math.min(q.off + q.cnt, #rows) do page[#page+1] = rows[i] end
  rows = page
end
local out = {total}
for _, r in ipairs(rows) do
  for i = 1, 9 do out[#out+1] = tostring(r[i]) end
end
return out
`,
  /** One page of outgoing messages: {total, then per message its id and META fields (ARGV[3..])}. */
  messagePage: `${LUA.page}
local P, q = ARGV[1], cjson.decode(ARGV[2])
local meta = {}
for i = 3, #ARGV do meta[#meta+1] = ARGV[i] end
local key = P..(q.receiver and ('out:rcv:'..q.receiver) or 'out:index')
local total, ids
if q.mid then
  ids = {}
  if redis.call('EXISTS', P..'out:'..q.mid) == 1 then ids[1] = q.mid end
end
local sortField = q.sort
if not ids and #q.eq == 0 and not sortField then
  total, ids = zpage({key}, '-inf', '+inf', false, q.off, q.cnt)
else
  local rows = {}
  local cands = ids and {} or zcollect({key}, '-inf', '+inf')
  if ids then for _, id in ipairs(ids) do cands[#cands+1] = {0, id} end end
  local fields = {}
  for i, e in ipairs(q.eq) do fields[i] = e[1] end
  if sortField then fields[#fields+1] = sortField end
  for _, r in ipairs(cands) do
    local ok, v = true, (#fields > 0) and redis.call('HMGET', P..'out:'..r[2], unpack(fields)) or {}
    for i, e in ipairs(q.eq) do if v[i] ~= e[2] then ok = false end end
    if ok then
      local k = r[1]
      if sortField then k = v[#fields] or '' end
      if sortField == 'lastUpdatedMs' then k = tonumber(k) or 0 end
      rows[#rows+1] = {k, r[2], #rows}
    end
  end
  total = #rows
  if sortField then
    table.sort(rows, function(a, b)
      if a[1] ~= b[1] then if q.rev then return a[1] > b[1] end return a[1] < b[1] end
      return a[3] < b[3]
    end)
  end
  ids = {}
  for i = q.off + 1, math.min(q.off + q.cnt, #rows) do ids[#ids+1] = rows[i][2] end
end
local out = {total}
for _, id in ipairs(ids) do
  out[#out+1] = id
  out[#out+1] = redis.call('HMGET', P..'out:'..id, unpack(meta))
end
return out
`,
} as const;
