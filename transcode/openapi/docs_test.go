package openapi

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsPage checks that the page loads the given document, escapes its
// URL, and refers to no other host.
func TestDocsPage(t *testing.T) {
	page := string(DocsPage("/openapi.json"))
	if !strings.Contains(page, `<meta name="spec-url" content="/openapi.json">`) {
		t.Error("the page does not carry the document URL")
	}
	if strings.Contains(page, specPlaceholder) {
		t.Error("placeholder left in the page")
	}
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindString(page); m != "" {
		t.Errorf("the page refers to another host: %q", m)
	}
	for _, bad := range []string{"<link", " src=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("the page loads something external (%q)", bad)
		}
	}
	hostile := string(DocsPage(`/x"><script>alert(1)</script>`))
	if strings.Contains(hostile, "<script>alert") || !strings.Contains(hostile, "&#34;&gt;&lt;script&gt;") {
		t.Error("the document URL is not escaped")
	}
}

// TestDocsScript checks the page's script parses, where node is installed.
func TestDocsScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed; scripts/test.sh installs it")
		}
		t.Skip("node not installed (scripts/test.sh installs it)")
	}
	page := string(DocsPage("/openapi.json"))
	start := strings.Index(page, "<script>")
	end := strings.LastIndex(page, "</script>")
	if start < 0 || end < start {
		t.Fatal("no script in the page")
	}
	file := filepath.Join(t.TempDir(), "page.js")
	if err := os.WriteFile(file, []byte(page[start+len("<script>"):end]), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", file).CombinedOutput(); err != nil {
		t.Fatalf("the page's script does not parse: %v\n%s", err, out)
	}
}
