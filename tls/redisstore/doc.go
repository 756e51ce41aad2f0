// Package redisstore is a certmagic.Storage kept in Redis, so that several
// Bouncer processes share certificates, ACME accounts and the locks that
// stop them from ordering the same certificate twice.
//
// # Key layout
//
// Every Redis key starts with Options.Prefix (P below, default
// "bouncer:certmagic:"). A storage key such as "certificates/acme/a.com/a.crt"
// is kept as:
//
//	P f:certificates/acme/a.com/a.crt  HASH  v = value, m = modified (Unix ns)
//	P d:certificates/acme/a.com        SET   {"a.crt", ...}  immediate children
//	P d:certificates/acme              SET   {"a.com", ...}
//	P d:certificates                   SET   {"acme", ...}
//	P d:                               SET   {"certificates", ...}  the root
//
// A "directory" exists exactly when its SET is non-empty (Redis deletes empty
// sets), so Exists, Stat and List never scan the keyspace: a non-recursive
// List is one SMEMBERS, a recursive one is one pipelined round trip per level
// of depth. Store writes the value and adds the key to its ancestors' sets in
// one Lua script, stopping at the first ancestor that already lists it.
// Delete removes the key, everything under it, and then prunes ancestors
// that became empty, also in one script, so readers never see a value that is
// missing from the index or the reverse.
//
// Unlike a file system, a key may be both a file and a directory ("a" and
// "a/b" both stored); Stat then reports the file.
//
// Locks use two more keys:
//
//	P l:<name>  STRING "<fence>:<token>", expiring after the lease (PX)
//	P fence     counter; INCR'd on every acquisition, never expires
//
// # Locks
//
// Lock takes "P l:<name>" with SET NX PX and a random token, and in the same
// script gives the acquisition the next fencing number. While the lock is
// held a goroutine renews the lease every LockTTL/3 with a compare-and-PEXPIRE;
// Unlock stops it and deletes the key only if it still holds this holder's
// value, so a holder whose lease ran out never frees a successor's lock. When
// renewal finds the lock taken by someone else, or cannot reach Redis for a
// whole lease, the lease is declared lost: it is logged, counted (LeasesLost),
// its Lost channel is closed and Fence reports false.
//
// Fencing of writes is opt-in: Store under a context made by WithLock
// checks, inside the same Lua script that writes, that the named lock still
// holds this holder's value, and otherwise fails with ErrLockLost. Because the
// lock and the data live in the same Redis, that atomic check is exactly what
// a fencing token protects against (a paused holder writing after its lease
// expired). certmagic's own Store calls carry no lock name, so they are not
// fenced; certmagic tolerates that, as its Locker contract says.
//
// Fencing numbers only increase while Redis keeps its data: a server without
// persistence that restarts loses the counter (and every lease, which then
// report lost) and starts again from 1.
//
// The scripts build key names from the prefix, so the store needs one Redis
// node (or a Sentinel-managed primary), not Redis Cluster.
package redisstore
