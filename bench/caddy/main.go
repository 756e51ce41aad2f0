// Command caddy is Caddy with its standard modules, built for the benchmark
// harness in bench/ (see bench/README.md). It adds nothing of its own.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
