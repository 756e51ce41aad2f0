package testsvc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Named is a running BIND named, authoritative (and nothing else) for one
// zone that accepts RFC 2136 dynamic updates signed with its TSIG key.
// The zone holds its SOA and NS records, "zone. A 127.0.0.1" and the
// wildcard "*.zone. A 127.0.0.1", so every name in it resolves to
// loopback.
type Named struct {
	Addr      string // host:port, UDP and TCP on 127.0.0.1
	Zone      string // the zone, fully qualified with the final dot
	KeyName   string // TSIG key name, fully qualified
	KeySecret string // TSIG secret, standard base64; the algorithm is hmac-sha256

	proc *Proc
}

// NamedKeyAlgorithm is the TSIG algorithm of the key StartNamed generates.
const NamedKeyAlgorithm = "hmac-sha256"

// StartNamed starts named in the foreground on a free loopback port with
// its configuration, zone file and journal in a folder of its own, and
// waits until it answers an SOA query for zone. It ends with the test.
// A port taken between FreePort and named binding it makes it start
// again on a new port (up to three times).
//
// named runs as the test's user: without -u it keeps its privileges,
// even as root, which is what a test wants; with -u it would switch to
// an account (Debian's "bind") that cannot write t.TempDir (mode 0700),
// where the journal (<zone file>.jnl) and the managed-keys files go.
func StartNamed(t testing.TB, zone string) *Named {
	t.Helper()
	bin := namedBinary(t)
	zone = strings.ToLower(strings.TrimSuffix(zone, ".")) + "."
	dir := t.TempDir()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	n := &Named{Zone: zone, KeyName: "bouncer-test-key.", KeySecret: base64.StdEncoding.EncodeToString(secret)}
	writeFile(t, filepath.Join(dir, "zone.db"), zoneFile(zone))
	for attempt := 1; ; attempt++ {
		port := FreePort(t)
		n.Addr = loopback(port)
		conf := filepath.Join(dir, "named.conf")
		writeFile(t, conf, namedConf(dir, port, n))
		// -g: foreground, log to stderr; -4: no IPv6 sockets
		n.proc = Start(t, bin, []string{"-g", "-4", "-c", conf}, nil)
		err := waitNamed(n, 15*time.Second)
		if err == nil {
			return n
		}
		n.proc.Stop()
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			t.Fatal(err)
		}
	}
}

// Output is named's log so far.
func (n *Named) Output() string { return n.proc.Output() }

// namedBinary finds named on PATH, in /usr/sbin (not on every user's
// PATH), or in the repository's .bin folder.
func namedBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("named"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/named"); err == nil {
		return "/usr/sbin/named"
	}
	return Binary(t, "named")
}

// waitNamed polls named with an SOA query for its zone every 20 ms until
// it answers, it reports a port in use (named logs the failed bind and
// keeps running), it exits, or timeout passes.
func waitNamed(n *Named, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if strings.Contains(n.proc.Output(), "address in use") {
			return fmt.Errorf("named on %s: %w", n.Addr, errPortTaken)
		}
		err := querySOA(n.Addr, n.Zone)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("named not ready after %v: %w\n%s", timeout, err, n.proc.Output())
		}
		select {
		case <-n.proc.Exited():
			return fmt.Errorf("named exited before it was ready:\n%s", n.proc.Output())
		case <-tick.C:
		}
	}
}

// querySOA sends one SOA query for zone over UDP and accepts an
// authoritative answer holding at least one record. It encodes the
// message by hand so that testsvc depends on no DNS library.
func querySOA(addr, zone string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	// header: ID 0x4242, no flags (RD clear), one question
	q := []byte{0x42, 0x42, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, label := range strings.Split(strings.TrimSuffix(zone, "."), ".") {
		q = append(q, byte(len(label)))
		q = append(q, label...)
	}
	q = append(q, 0, 0, 6, 0, 1) // root, QTYPE SOA, QCLASS IN
	if _, err := c.Write(q); err != nil {
		return err
	}
	r := make([]byte, 512)
	k, err := c.Read(r)
	if err != nil {
		return err
	}
	switch {
	case k < 12 || r[0] != 0x42 || r[1] != 0x42:
		return errors.New("not a reply to the probe")
	case r[3]&0x0f != 0:
		return fmt.Errorf("rcode %d", r[3]&0x0f)
	case r[2]&0x04 == 0 || r[6] == 0 && r[7] == 0:
		return errors.New("no authoritative answer yet")
	}
	return nil
}

// namedConf is an authoritative-only configuration: no recursion, no
// rndc control channel, no IPv6, everything named writes kept in dir,
// and updates to the zone allowed to the TSIG key alone.
func namedConf(dir string, port int, n *Named) string {
	return fmt.Sprintf(`options {
	directory %[1]q;
	pid-file none;
	session-keyfile none;
	managed-keys-directory %[1]q;
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
	allow-transfer { none; };
};
controls { };
key %[3]q {
	algorithm %[4]s;
	secret %[5]q;
};
zone %[6]q {
	type primary;
	file "zone.db";
	update-policy { grant %[3]s zonesub ANY; };
};
`, dir, port, n.KeyName, NamedKeyAlgorithm, n.KeySecret, n.Zone)
}

// zoneFile is the zone's initial content; named keeps later updates in
// the journal next to it.
func zoneFile(zone string) string {
	return fmt.Sprintf(`$ORIGIN %[1]s
$TTL 60
@	IN SOA	ns.%[1]s hostmaster.%[1]s 1 60 60 600 60
@	IN NS	ns.%[1]s
@	IN A	127.0.0.1
ns	IN A	127.0.0.1
*	IN A	127.0.0.1
`, zone)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
