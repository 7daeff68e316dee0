//! The Lua scripts: each check-and-write runs atomically inside Redis, so no
//! host can slip between a check and its write. `redis::Script` sends
//! EVALSHA and falls back to loading the script when Redis lacks it.
//!
//! The record is a hash of decimal strings (no JSON in Lua: cjson would
//! print large numbers in exponent form). Times in it are Redis's clock
//! (`TIME`), never a host's: see the module doc of `super`.

use once_cell::sync::Lazy;
use redis::Script;

use crate::fork;

/// Builds every script inside one section (hashing them, no I/O), before
/// any store uses one: a fork never finds a Lazy half-made, which would
/// hold up the child's first call forever.
pub(super) fn force_all() {
    let _section = fork::section();
    for script in [&LOCK, &UNLOCK, &LOAD, &SAVE] {
        Lazy::force(script);
    }
}

/// KEYS: lock, fence, rec. ARGV: owner, lease_ms.
/// Takes the lock (`SET NX PX`) and, with it, the next fence. A counter that
/// was wiped (FLUSHDB, a failover to a replica that missed the INCR) would
/// hand out a fence below the record's, and every write would then be
/// refused: the counter is bumped past the record's fence instead.
/// Returns the fence, or nil while another party holds the lock.
pub(super) static LOCK: Lazy<Script> = Lazy::new(|| {
    Script::new(
        r#"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
local fence = redis.pcall('INCR', KEYS[2])
if type(fence) ~= 'number' then
  fence = 1 -- not a counter (foreign content): start again, bumped below
end
if redis.call('TYPE', KEYS[3]).ok == 'hash' then
  local held = tonumber(redis.call('HGET', KEYS[3], 'fence'))
  if held and held >= fence then
    fence = held + 1
  end
end
redis.call('SET', KEYS[2], string.format('%.0f', fence))
return fence
"#,
    )
});

/// KEYS: lock. ARGV: owner. Deletes the lock only if this owner holds it:
/// after a lease ran out, someone else may.
pub(super) static UNLOCK: Lazy<Script> = Lazy::new(|| {
    Script::new(
        r#"
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#,
    )
});

/// KEYS: rec. Returns Redis's TIME (seconds, microseconds) and the record's
/// fields v, token, generation, fence, fetched_at_ms, expires_at_ms (nil for anything absent or foreign), in one round trip.
pub(super) static LOAD: Lazy<Script> = Lazy::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then
  return {t[1], t[2]}
end
local h = redis.call('HMGET', KEYS[1], 'v', 'token', 'generation', 'fence', 'fetched_at_ms', 'expires_at_ms')
return {t[1], t[2], h[1], h[2], h[3], h[4], h[5], h[6]}
"#,
    )
});

/// KEYS: rec. ARGV: token, generation, fence, age_ms, remaining_ms.
/// Writes the record unless the one held may not be replaced (the rule of
/// `Record::may_replace`: fence not older, and a later generation or a later
/// fetch), with times on Redis's clock: fetched = now - age, expires = now +
/// remaining, and a TTL that ends with the token. Returns TIME and what Redis
/// holds after, as LOAD does.
pub(super) static SAVE: Lazy<Script> = Lazy::new(|| {
    Script::new(
        r#"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gen, fence = tonumber(ARGV[2]), tonumber(ARGV[3])
local fetched = now - tonumber(ARGV[4])
local ttl = math.max(1, tonumber(ARGV[5]))
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
  local h = redis.call('HMGET', KEYS[1], 'v', 'token', 'generation', 'fence', 'fetched_at_ms', 'expires_at_ms')
  local hgen, hfence, hfetched = tonumber(h[3]), tonumber(h[4]), tonumber(h[5])
  if h[1] == '1' and h[2] and hgen and hfence and hfetched and tonumber(h[6]) then
    local newer = gen > hgen or fetched > hfetched
    if not (fence >= hfence and newer) then
      return {t[1], t[2], h[1], h[2], h[3], h[4], h[5], h[6]}
    end
  end
end
local f = string.format('%.0f', fetched)
local e = string.format('%.0f', now + ttl)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', '1', 'token', ARGV[1], 'generation', ARGV[2],
  'fence', ARGV[3], 'fetched_at_ms', f, 'expires_at_ms', e)
redis.call('PEXPIRE', KEYS[1], ttl)
return {t[1], t[2], '1', ARGV[1], ARGV[2], ARGV[3], f, e}
"#,
    )
});

/// KEYS: meta. Returns Redis's TIME and the meta's JSON (nil if absent or
/// foreign).
pub(super) static LOAD_META: Lazy<Script> = Lazy::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then
  return {t[1], t[2]}
end
return {t[1], t[2], redis.call('HGET', KEYS[1], 'json')}
"#,
    )
});

/// KEYS: meta. ARGV: fence, json, ttl_ms. Writes the meta unless the one
/// held was written under a later fence (a leader that lost its lease);
/// it expires when no refresh has touched it for ttl_ms. Returns TIME.
pub(super) static SAVE_META: Lazy<Script> = Lazy::new(|| {
    Script::new(
        r#"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local fence = tonumber(ARGV[1])
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
  local held = tonumber(redis.call('HGET', KEYS[1], 'fence'))
  if held and held > fence then
    return {t[1], t[2]}
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'json', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {t[1], t[2]}
"#,
    )
});
