package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts below run atomically on the Redis server. go-redis sends
// them with EVALSHA and falls back to EVAL once after a server restart.

// storeScript writes a value and indexes it.
//
//	KEYS[1]   the file hash
//	KEYS[2]   the lock key to check (ignored when ARGV[3] is "")
//	KEYS[3..] the directory sets from the parent up to the root
//	ARGV[1]   value, ARGV[2] modified time (Unix ns)
//	ARGV[3]   the lock value that must be current, or "" for an unfenced write
//	ARGV[4..] the name to add to the matching KEYS[i-1] set
//
// It returns 0 without writing if the lock check fails, else 1. Adding stops
// at the first set that already held the name: its ancestors index it.
var storeScript = redis.NewScript(`
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'm', ARGV[2])
for i = 3, #KEYS do
  if redis.call('SADD', KEYS[i], ARGV[i+1]) == 0 then
    break
  end
end
return 1
`)

// deleteScript removes ARGV[2] and everything under it, then prunes the
// index upwards while a node has neither a value nor children. ARGV[1] is
// the key prefix. It returns the number of Redis keys deleted.
var deleteScript = redis.NewScript(`
local P, n = ARGV[1], 0
local function drop(k)
  n = n + redis.call('DEL', P .. 'f:' .. k)
  local d = P .. 'd:' .. k
  for _, c in ipairs(redis.call('SMEMBERS', d)) do
    drop(k .. '/' .. c)
  end
  n = n + redis.call('DEL', d)
end
drop(ARGV[2])
local k = ARGV[2]
while redis.call('EXISTS', P .. 'f:' .. k, P .. 'd:' .. k) == 0 do
  local i = string.find(k, '/[^/]*$')
  local parent, name = '', k
  if i then
    parent, name = string.sub(k, 1, i - 1), string.sub(k, i + 1)
  end
  redis.call('SREM', P .. 'd:' .. parent, name)
  if parent == '' then
    break
  end
  k = parent
end
return n
`)

// acquireScript takes lock KEYS[1] for ARGV[2] ms if it is free and gives it
// the next number from counter KEYS[2]; the lock's value becomes
// "<fence>:<token ARGV[1]>". It returns the fence, or 0 if the lock is held.
var acquireScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
local f = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], f .. ':' .. ARGV[1], 'PX', ARGV[2])
return f
`)

// renewScript extends lock KEYS[1] to ARGV[2] ms if its value is still
// ARGV[1]; it returns 1 if it did, 0 if the lock is gone or someone else's.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript deletes lock KEYS[1] if its value is still ARGV[1]; it
// returns 1 if it did, 0 otherwise.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)
