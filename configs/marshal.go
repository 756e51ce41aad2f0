package configs

import (
	"strconv"
	"time"
)

// MarshalYAML writes a Duration in its readable form ("5s").
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalText writes a Duration in its readable form, for JSON.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// MarshalYAML writes a Size as a byte count.
func (s Size) MarshalYAML() (any, error) { return int64(s), nil }

// String formats a size in bytes.
func (s Size) String() string { return strconv.FormatInt(int64(s), 10) }
