package ratelimit

import "time"

// gcra decides a request for up to want cells (want >= 1) at time now,
// given the stored TAT, the emission interval t and the burst b, all
// times in nanoseconds. It grants min(want, available) cells when at least
// one is available, and returns the new TAT (unchanged on denial).
//
// RedisStore's script does the same arithmetic in microseconds; keep the
// two in step.
func gcra(tat, now, t, b, want int64) (granted, newTAT int64, r Result) {
	if tat < now {
		tat = now
	}
	avail := (now - tat + b*t) / t
	if avail < 1 {
		return 0, tat, Result{
			RetryAfter: time.Duration(tat + t - b*t - now),
			ResetAfter: time.Duration(tat - now),
		}
	}
	granted = min(want, avail)
	newTAT = tat + granted*t
	return granted, newTAT, Result{
		Allowed:    true,
		Remaining:  avail - granted,
		ResetAfter: time.Duration(newTAT - now),
	}
}

// refundTAT gives n cells back to a TAT: the state as if they had never
// been taken. A TAT in the past means a full bucket however far back it
// is, so no clamping is needed.
func refundTAT(tat, t, n int64) int64 {
	return tat - n*t
}
