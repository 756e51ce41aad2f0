package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
)

// copyInputs copies the generator's hand-written inputs from the
// repository into a fresh root.
func copyInputs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, name := range []string{configs.IntroFile, "configs/examples/minimal.yaml", "configs/examples/full.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestRunWritesThenChecks(t *testing.T) {
	root := copyInputs(t)
	var out bytes.Buffer
	if err := run(root, true, &out); !errors.Is(err, errStale) {
		t.Fatalf("check before generating: got %v, want errStale", err)
	}
	if !strings.Contains(out.String(), "docs/config.md is out of date") {
		t.Errorf("check output %q does not name docs/config.md", out.String())
	}

	out.Reset()
	if err := run(root, false, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "wrote configs/schema.json\nwrote docs/config.md\n" {
		t.Errorf("output %q", got)
	}
	want, err := configs.Generate(os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s not written as generated (err %v)", name, err)
		}
	}

	out.Reset()
	if err := run(root, false, &out); err != nil || out.Len() != 0 {
		t.Errorf("second run: err %v, output %q; want nothing rewritten", err, out.String())
	}
	if err := run(root, true, &out); err != nil {
		t.Errorf("check after generating: %v", err)
	}

	schema := filepath.Join(root, filepath.FromSlash(configs.SchemaFile))
	if err := os.WriteFile(schema, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(root, true, &out); !errors.Is(err, errStale) {
		t.Errorf("check after editing schema.json: got %v, want errStale", err)
	}
}

func TestRunWithoutIntroFails(t *testing.T) {
	if err := run(t.TempDir(), false, &bytes.Buffer{}); err == nil {
		t.Fatal("run succeeded without docs/config-intro.md")
	}
}

// TestRepositoryIsUpToDate is the same check CI runs with -check.
func TestRepositoryIsUpToDate(t *testing.T) {
	var out bytes.Buffer
	if err := run(filepath.Join("..", ".."), true, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
}
