package configs

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// slug is the anchor a Markdown heading gets on GitHub.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func readDocs(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../" + DocsFile)
	if err != nil {
		t.Fatalf("%v (%s)", err, regenerate)
	}
	return string(data)
}

var (
	headingRE = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	anchorRE  = regexp.MustCompile(`\]\(#([^)]+)\)`)
	yamlRE    = regexp.MustCompile("(?s)```yaml\n(.*?)```")
	fenceRE   = regexp.MustCompile("(?s)```.*?```")
)

func TestDocsAnchorsResolve(t *testing.T) {
	docs := readDocs(t)
	anchors := map[string]bool{}
	prose := fenceRE.ReplaceAllString(docs, "")
	for _, m := range headingRE.FindAllStringSubmatch(prose, -1) {
		s := slug(m[1])
		if anchors[s] {
			t.Errorf("two headings have anchor #%s", s)
		}
		anchors[s] = true
	}
	links := anchorRE.FindAllStringSubmatch(docs, -1)
	if len(links) < 20 {
		t.Fatalf("found %d anchor links; the reference should link its types", len(links))
	}
	for _, m := range links {
		if !anchors[m[1]] {
			t.Errorf("link to #%s has no heading", m[1])
		}
	}
	for _, want := range []string{"routing", "durations-and-sizes", "reloading", "key-reference"} {
		if !anchors[want] {
			t.Errorf("no section #%s", want)
		}
	}
}

// TestDocsYAMLBlocksMatchSchema checks every YAML example on the page,
// including the included example files, against the schema.
func TestDocsYAMLBlocksMatchSchema(t *testing.T) {
	sch := diskSchema(t)
	blocks := yamlRE.FindAllStringSubmatch(readDocs(t), -1)
	if len(blocks) < 3 {
		t.Fatalf("found %d YAML blocks; want the intro snippet and both examples", len(blocks))
	}
	for i, m := range blocks {
		if err := sch.Validate(yamlToJSON(t, []byte(m[1]))); err != nil {
			t.Errorf("YAML block %d does not match the schema: %v\n%s", i, err, m[1])
		}
	}
}

func TestDocsCoverTheRequiredTopics(t *testing.T) {
	docs := readDocs(t)
	for _, want := range []string{
		"file:line: key.path: message", "SIGHUP", "`*.example.com`", "%2F",
		"`64KiB`", "`1m30s`", "Config order", "configs/schema.json",
	} {
		if !strings.Contains(docs, want) {
			t.Errorf("docs/config.md does not mention %s", want)
		}
	}
}

func TestReferenceListsSharedTypesOnce(t *testing.T) {
	ref := Reference()
	if n := strings.Count(ref, "\n### ValueMatch\n"); n != 1 {
		t.Fatalf("ValueMatch has %d sections, want 1", n)
	}
	row := "| `routes[].match.headers[].name`<br>`routes[].match.query[].name` | string |  | **Required.**"
	if !strings.Contains(ref, row) {
		t.Errorf("ValueMatch's name row is not shared by both paths; want a row starting\n%s", row)
	}
	if !strings.Contains(ref, "Exactly one of `proxy`, `transcode`, `redirect`, `respond`, `aggregate` must be set.") {
		t.Error("Route's action rule is not stated")
	}
	if !strings.Contains(ref, "| `upstreams.<name>.endpoints` | list of `host:port` or [Endpoint](#endpoint) |") {
		t.Error("endpoints row does not show both forms")
	}
	if strings.Contains(ref, "| `server.trusted_proxies` | list of string |  | CIDRs (or IPs) whose X-Forwarded-* ") {
		t.Error("asterisks in descriptions are not escaped for Markdown")
	}
}

func TestGenerateIncludesFiles(t *testing.T) {
	fsys := fstest.MapFS{
		IntroFile:       {Data: []byte("# Intro\n\n<!-- include ex/a.yaml -->\n\nafter\n")},
		"ex/a.yaml":     {Data: []byte("log: {level: debug}\n\n")},
		"docs/other.md": {Data: []byte("x")},
	}
	files, err := Generate(fsys)
	if err != nil {
		t.Fatal(err)
	}
	docs := string(files[DocsFile])
	want := "# Intro\n\n```yaml\nlog: {level: debug}\n```\n\nafter\n"
	if !strings.Contains(docs, want) {
		t.Errorf("include not expanded; docs start:\n%s", docs[:min(len(docs), 300)])
	}
	if !strings.HasPrefix(docs, "<!-- Generated") || !strings.Contains(docs, "## Key reference") {
		t.Error("docs lack the generated header or the key reference")
	}
	if len(files[SchemaFile]) == 0 {
		t.Error("no schema generated")
	}

	for name, intro := range map[string]string{
		"missing file": "<!-- include ex/nope.yaml -->\n",
		"not yaml":     "<!-- include docs/other.md -->\n",
	} {
		fsys[IntroFile] = &fstest.MapFile{Data: []byte(intro)}
		if _, err := Generate(fsys); err == nil {
			t.Errorf("%s: Generate succeeded", name)
		}
	}
	delete(fsys, IntroFile)
	if _, err := Generate(fsys); err == nil {
		t.Error("Generate succeeded without an intro")
	}
}
