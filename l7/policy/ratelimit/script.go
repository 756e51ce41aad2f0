package ratelimit

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeScript is gcra in Lua, in microseconds read from the server's own
// clock (TIME), so instances whose clocks disagree still share one
// timeline. TIME fits a Lua number exactly (about 2^51 µs now); the TAT
// is stored with 17 significant digits so it reads back bit for bit.
//
// KEYS[1] the counter. ARGV: emission interval T (µs, may be fractional),
// burst, cells wanted, and a time in µs that replaces TIME (tests only;
// empty in production). Returns {granted, remaining, retry µs, reset µs}.
// The key expires (PEXPIRE via SET PX) when its TAT passes.
var takeScript = redis.NewScript(`
local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local now
if ARGV[4] ~= "" then
  now = tonumber(ARGV[4])
else
  local tm = redis.call("TIME")
  now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
end
local tat = tonumber(redis.call("GET", KEYS[1]) or now)
if tat < now then tat = now end
local tol = burst * t
local avail = math.floor((now - tat + tol) / t + 1e-9)
if avail < 1 then
  return {0, 0, math.ceil(tat + t - tol - now), math.ceil(tat - now)}
end
local granted = math.min(want, avail)
tat = tat + granted * t
redis.call("SET", KEYS[1], string.format("%.17g", tat), "PX", math.max(1, math.ceil((tat - now) / 1000)))
return {granted, avail - granted, 0, math.ceil(tat - now)}
`)

// refundScript moves a counter's TAT back by ARGV[2] cells of ARGV[1] µs,
// deleting it when that puts the TAT in the past (a full bucket).
var refundScript = redis.NewScript(`
local tat = tonumber(redis.call("GET", KEYS[1]))
if not tat then return 0 end
local tm = redis.call("TIME")
local now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
tat = tat - tonumber(ARGV[2]) * tonumber(ARGV[1])
if tat <= now then
  redis.call("DEL", KEYS[1])
else
  redis.call("SET", KEYS[1], string.format("%.17g", tat), "PX", math.max(1, math.ceil((tat - now) / 1000)))
end
return 1
`)

// scriptReply is takeScript's answer.
type scriptReply struct {
	granted, remaining int64
	retry, reset       time.Duration
}

// intervalMicros is the emission interval in microseconds, exactly
// Period/Requests (not truncated as in LocalStore).
func intervalMicros(l Limit) string {
	return strconv.FormatFloat(float64(l.Period)/float64(l.Requests)/1e3, 'g', -1, 64)
}

// runRefund runs refundScript for n cells.
func runRefund(ctx context.Context, c redis.Scripter, key string, l Limit, n int64) error {
	return refundScript.Run(ctx, c, []string{key}, intervalMicros(l), n).Err()
}
