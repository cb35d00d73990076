// Folds every store operation issued during one event-loop turn into one Lua call per hash tag: one Redis command instead of one per operation.

/** The part of a key Redis Cluster hashes: the first non-empty {tag}, else the whole key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

/**
 * The program ARGV describes, one operation after the other; each operation's keys are the next ones in KEYS.
 * Reads of a key holding the other kind of value are misses (false -> nil), never errors, so one operation cannot fail
 * the others of its turn. Redis runs the call without interleaving other clients, and each write checks the key's kind
 * before it acts, so no command fails halfway: a `w` (write batch) is applied whole.
 *
 *   g  GET                        -> value | nil          x  GETDEL -> value | nil
 *   m  n  MGET of n keys          -> [value | nil, ...]   h  HGETALL -> [field, value, ...]
 *   hg field  HGET                -> value | nil
 *   s  value px  SET [PX]         -> 1                    n  value px  SET PX NX -> 1 | 0
 *   d  n  DEL of n keys           -> 1                    e  value  DEL while equal -> 1 | 0
 *   a  fields  assign (see below) -> 1 | 0 | -1           t  PTTL -> ms | -1 | -2
 *   c  name pair  claim: appends pair (`"name":value`) while the object has no top-level field `name`
 *                 -> 1 (won) | 0 (taken) | -2 (absent) | -1 (not a JSON object)
 *   i  px  INCR, PX when created (a key of another kind is replaced by the counter) -> n
 *   za member at  ZADD (a key of another kind is replaced by the schedule) -> 1      zr member  ZREM -> 1
 *   zt upTo limit lease  ZRANGEBYSCORE -inf upTo LIMIT 0 limit, each moved to upTo + lease -> [member, at, ...]
 *   k  capacity perSecond now upTo  takes up to upTo whole tokens from the bucket stored as "tokens:at" (see
 *                 token-bucket.ts), PX until full -> [taken, remaining, retryAfterMs, resetMs]
 *   w  n  then n write ops on the next n keys (s value px | d | e value | ms field value px | hd field | hp upTo) -> 1
 *
 * `a` appends the new fields' JSON (without braces) to the stored object's JSON: JSON.parse keeps the last of
 * duplicate names (ECMA-262), so the result reads as Object.assign while Lua never re-encodes the stored text (cjson
 * would turn [] into {} and round numbers). -1: the stored value is not a JSON object. `c` decodes the stored object
 * (cjson) only to look its top-level field up; the text it stores is the old text plus the pair, as with `a`.
 */
export const RUN_LUA = `
local out = {}
local k = 1
local a = 1
local function isString(key) return redis.call('TYPE', key).ok == 'string' end
local function setValue(key, value, px)
  if px ~= '' then redis.call('SET', key, value, 'PX', px) else redis.call('SET', key, value) end
end
local function mapSet(key, field, value, px)
  local kind = redis.call('TYPE', key).ok
  if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', key); kind = 'none' end
  redis.call('HSET', key, field, value)
  local ttl = tonumber(px)
  if kind == 'none' then
    if ttl then redis.call('PEXPIRE', key, ttl) end
  elseif ttl then
    local left = redis.call('PTTL', key)
    if left >= 0 and left < ttl then redis.call('PEXPIRE', key, ttl) end
  else
    redis.call('PERSIST', key)
  end
end
while a <= #ARGV do
  local op = ARGV[a]
  local r
  if op == 'g' then
    r = isString(KEYS[k]) and redis.call('GET', KEYS[k]) or false
    k = k + 1; a = a + 1
  elseif op == 'x' then
    r = isString(KEYS[k]) and redis.call('GETDEL', KEYS[k]) or false
    k = k + 1; a = a + 1
  elseif op == 'm' then
    local n = tonumber(ARGV[a + 1])
    r = {}
    for j = 1, n do r[j] = isString(KEYS[k + j - 1]) and redis.call('GET', KEYS[k + j - 1]) or false end
    k = k + n; a = a + 2
  elseif op == 'h' then
    r = redis.call('TYPE', KEYS[k]).ok == 'hash' and redis.call('HGETALL', KEYS[k]) or {}
    k = k + 1; a = a + 1
  elseif op == 'hg' then
    r = redis.call('TYPE', KEYS[k]).ok == 'hash' and redis.call('HGET', KEYS[k], ARGV[a + 1]) or false
    k = k + 1; a = a + 2
  elseif op == 's' then
    setValue(KEYS[k], ARGV[a + 1], ARGV[a + 2])
    r = 1; k = k + 1; a = a + 3
  elseif op == 'n' then
    r = redis.call('SET', KEYS[k], ARGV[a + 1], 'PX', ARGV[a + 2], 'NX') and 1 or 0
    k = k + 1; a = a + 3
  elseif op == 'd' then
    local n = tonumber(ARGV[a + 1])
    for j = 1, n do redis.call('DEL', KEYS[k + j - 1]) end
    r = 1; k = k + n; a = a + 2
  elseif op == 'e' then
    r = 0
    if isString(KEYS[k]) and redis.call('GET', KEYS[k]) == ARGV[a + 1] then r = redis.call('DEL', KEYS[k]) end
    k = k + 1; a = a + 2
  elseif op == 'a' then
    r = 0
    if isString(KEYS[k]) then
      local v = redis.call('GET', KEYS[k])
      if string.sub(v, 1, 1) ~= '{' or string.sub(v, -1) ~= '}' then
        r = -1
      else
        if ARGV[a + 1] ~= '' then
          if v == '{}' then v = '{' .. ARGV[a + 1] .. '}' else v = string.sub(v, 1, -2) .. ',' .. ARGV[a + 1] .. '}' end
          redis.call('SET', KEYS[k], v, 'KEEPTTL')
        end
        r = 1
      end
    end
    k = k + 1; a = a + 2
  elseif op == 'c' then
    r = -2
    if isString(KEYS[k]) then
      local v = redis.call('GET', KEYS[k])
      local ok, doc = false, nil
      if string.sub(v, 1, 1) == '{' and string.sub(v, -1) == '}' then ok, doc = pcall(cjson.decode, v) end
      if not ok or type(doc) ~= 'table' then
        r = -1
      elseif doc[ARGV[a + 1]] ~= nil then
        r = 0
      else
        if v == '{}' then v = '{' .. ARGV[a + 2] .. '}' else v = string.sub(v, 1, -2) .. ',' .. ARGV[a + 2] .. '}' end
        redis.call('SET', KEYS[k], v, 'KEEPTTL')
        r = 1
      end
    end
    k = k + 1; a = a + 3
  elseif op == 't' then
    r = redis.call('PTTL', KEYS[k])
    k = k + 1; a = a + 1
  elseif op == 'i' then
    local existed = redis.call('EXISTS', KEYS[k])
    if existed == 1 and not isString(KEYS[k]) then redis.call('DEL', KEYS[k]); existed = 0 end
    r = redis.call('INCR', KEYS[k])
    if existed == 0 then redis.call('PEXPIRE', KEYS[k], ARGV[a + 1]) end
    k = k + 1; a = a + 2
  elseif op == 'za' then
    local kind = redis.call('TYPE', KEYS[k]).ok
    if kind ~= 'zset' and kind ~= 'none' then redis.call('DEL', KEYS[k]) end
    redis.call('ZADD', KEYS[k], ARGV[a + 2], ARGV[a + 1])
    r = 1; k = k + 1; a = a + 3
  elseif op == 'zr' then
    if redis.call('TYPE', KEYS[k]).ok == 'zset' then redis.call('ZREM', KEYS[k], ARGV[a + 1]) end
    r = 1; k = k + 1; a = a + 2
  elseif op == 'zt' then
    r = {}
    if redis.call('TYPE', KEYS[k]).ok == 'zset' then
      r = redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', ARGV[a + 1], 'WITHSCORES', 'LIMIT', 0, ARGV[a + 2])
      local leased = tonumber(ARGV[a + 1]) + tonumber(ARGV[a + 3])
      for j = 1, #r, 2 do redis.call('ZADD', KEYS[k], leased, r[j]) end
    end
    k = k + 1; a = a + 4
  elseif op == 'k' then
    local cap, rate, now, upTo = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
    local tokens, at = cap, now
    if isString(KEYS[k]) then
      local v = redis.call('GET', KEYS[k])
      local sep = string.find(v, ':', 1, true)
      local t0 = sep and tonumber(string.sub(v, 1, sep - 1))
      local at0 = sep and tonumber(string.sub(v, sep + 1))
      if t0 and at0 then
        tokens = math.min(cap, t0 + math.max(0, now - at0) * rate / 1000)
        at = math.max(now, at0)
      end
    end
    local taken = math.max(0, math.min(math.floor(upTo), math.floor(tokens)))
    tokens = tokens - taken
    local reset = math.ceil((cap - tokens) * 1000 / rate - 1e-9)
    redis.call('SET', KEYS[k], string.format('%.6f:%d', tokens, at), 'PX', math.max(1, reset))
    local retry = 0
    if taken == 0 then retry = math.ceil((1 - tokens) * 1000 / rate - 1e-9) end
    r = { taken, math.floor(tokens), retry, reset }
    k = k + 1; a = a + 5
  elseif op == 'w' then
    local n = tonumber(ARGV[a + 1])
    a = a + 2
    for _ = 1, n do
      local w = ARGV[a]
      local key = KEYS[k]
      if w == 's' then setValue(key, ARGV[a + 1], ARGV[a + 2]); a = a + 3
      elseif w == 'd' then redis.call('DEL', key); a = a + 1
      elseif w == 'e' then
        if isString(key) and redis.call('GET', key) == ARGV[a + 1] then redis.call('DEL', key) end
        a = a + 2
      elseif w == 'ms' then mapSet(key, ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]); a = a + 4
      elseif w == 'hd' then
        if redis.call('TYPE', key).ok == 'hash' then redis.call('HDEL', key, ARGV[a + 1]) end
        a = a + 2
      elseif w == 'hp' then
        if redis.call('TYPE', key).ok == 'hash' then
          local upTo = tonumber(ARGV[a + 1])
          local all = redis.call('HGETALL', key)
          for j = 1, #all, 2 do
            local at = tonumber(all[j + 1])
            if at and at > 0 and at <= upTo then redis.call('HDEL', key, all[j]) end
          end
        end
        a = a + 2
      else return redis.error_reply('unknown write op ' .. tostring(w)) end
      k = k + 1
    end
    r = 1
  else
    return redis.error_reply('unknown op ' .. tostring(op))
  end
  out[#out + 1] = r
end
return out
`;

/** One operation of a turn: its opcode program, its keys (full, prefixed) and the caller waiting for its reply. */
interface Pending {
  keys: readonly string[];
  args: readonly string[];
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

/** Runs the batched program on one node; the keys of one call share a hash tag in Cluster. */
export type RunScript = (keys: string[], args: string[]) => Promise<unknown[]>;

/** At most this many operations go into one Lua call (bounds how long one call holds Redis). */
const MAX_OPS_PER_CALL = 256;

export class RedisTurnBatcher {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly runScript: RunScript,
    /** Cluster: operations are grouped by hash tag, each group one call (one slot). */
    private readonly isCluster: boolean,
    /** Turns a failure of the call (connection, timeout) into what every caller of the turn sees. */
    private readonly failure: (cause: unknown) => unknown,
  ) {}

  /** Queues one operation for this turn; resolves with its own element of the reply. */
  run(keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ keys, args, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const group of this.groups(queue)) {
      for (let start = 0; start < group.length; start += MAX_OPS_PER_CALL) this.send(group.slice(start, start + MAX_OPS_PER_CALL));
    }
  }

  private groups(queue: Pending[]): Pending[][] {
    if (!this.isCluster) return [queue];
    const byTag = new Map<string, Pending[]>();
    for (const op of queue) {
      const tag = hashTagOf(op.keys[0]!);
      const group = byTag.get(tag);
      if (group) group.push(op);
      else byTag.set(tag, [op]);
    }
    return [...byTag.values()];
  }

  private send(ops: Pending[]): void {
    const keys: string[] = [];
    const args: string[] = [];
    for (const op of ops) {
      for (const key of op.keys) keys.push(key);
      for (const arg of op.args) args.push(arg);
    }
    this.runScript(keys, args).then(
      (replies) => ops.forEach((op, i) => op.resolve(replies[i])),
      (error: unknown) => {
        const failure = this.failure(error);
        for (const op of ops) op.reject(failure);
      },
    );
  }
}
