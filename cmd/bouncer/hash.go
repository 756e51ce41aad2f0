package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/bouncer-proxy/bouncer/l7/policy/credauth"
)

// maxSecret bounds what the hash commands read.
const maxSecret = 4096

// cmdHash prints the stored form of a secret read from standard input
// (its first line, without the line end): sha256:<hex> of an API key for
// api_key.keys[].hash, or a bcrypt hash of a password for
// basic_auth.users[].hash. The secret is never an argument, so it stays
// out of shell history and process lists.
func cmdHash(kind string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt cost (hash-password)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: bouncer %s < secret   (reads the first line of standard input)\n", kind)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "bouncer %s: the secret is read from standard input, not given as an argument\n", kind)
		return exitUsage
	}
	// One byte past the bound tells a secret that is too long from one
	// that fits; it must never be cut short and hashed as something else.
	line, err := bufio.NewReaderSize(io.LimitReader(stdin, maxSecret+1), maxSecret+1).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintf(stderr, "bouncer %s: reading standard input: %v\n", kind, err)
		return exitUsage
	}
	secret := strings.TrimRight(line, "\r\n")
	if len(secret) > maxSecret {
		fmt.Fprintf(stderr, "bouncer %s: the secret is longer than %d bytes\n", kind, maxSecret)
		return exitUsage
	}
	if secret == "" {
		fmt.Fprintf(stderr, "bouncer %s: standard input holds no secret (an empty first line)\n", kind)
		return exitUsage
	}
	if kind == "hash-key" {
		fmt.Fprintln(stdout, credauth.HashAPIKey(secret))
		return exitOK
	}
	h, err := bcrypt.GenerateFromPassword([]byte(secret), *cost)
	if err != nil {
		fmt.Fprintf(stderr, "bouncer %s: %v\n", kind, err)
		return exitUsage
	}
	fmt.Fprintln(stdout, string(h))
	return exitOK
}
