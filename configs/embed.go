package configs

import _ "embed"

// Default is the embedded default configuration (configs/default.yaml),
// used by `bouncer run` when no -config is given.
//
//go:embed default.yaml
var Default []byte

// DefaultName names the embedded config in messages.
const DefaultName = "(embedded default)"
