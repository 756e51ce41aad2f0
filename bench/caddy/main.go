// Command caddy is Caddy with its standard modules and caddy-l4's layer4
// app and its standard handlers (the tcp-* scenarios' target), built for the
// benchmark harness in bench/ (see bench/README.md). It adds nothing of its
// own.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mholt/caddy-l4"
)

func main() {
	caddycmd.Main()
}
