// Command configgen writes docs/config.md and configs/schema.json from the
// config types in package configs and the intro in docs/config-intro.md.
//
// Run it from the repository root after changing either:
//
//	go run ./cmd/configgen
//
// With -check it writes nothing and exits 1 if a file is out of date.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/bouncer-proxy/bouncer/configs"
)

func main() {
	root := flag.String("root", ".", "repository root")
	check := flag.Bool("check", false, "report out-of-date files instead of writing them")
	flag.Parse()
	if err := run(*root, *check, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "configgen:", err)
		os.Exit(1)
	}
}

// errStale is returned by run in check mode when a file differs.
var errStale = errors.New("generated files are out of date: run go run ./cmd/configgen")

// run generates the files under root and writes those that changed, naming
// each on out; with check it only compares and returns errStale on a difference.
func run(root string, check bool, out io.Writer) error {
	files, err := configs.Generate(os.DirFS(root))
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	stale := false
	for _, name := range names {
		dst := filepath.Join(root, filepath.FromSlash(name))
		old, err := os.ReadFile(dst)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if bytes.Equal(old, files[name]) {
			continue
		}
		if check {
			fmt.Fprintf(out, "%s is out of date\n", name)
			stale = true
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, files[name], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", name)
	}
	if stale {
		return errStale
	}
	return nil
}
