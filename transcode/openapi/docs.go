package openapi

import (
	_ "embed"
	"html"
	"strings"
)

//go:embed docs.html
var docsHTML string

// specPlaceholder marks where DocsPage writes the document's URL.
const specPlaceholder = "{{SPEC_URL}}"

// DocsPage answers an HTML page that loads the OpenAPI document from
// specURL (relative to the page, or absolute) and renders its operations
// and schemas, with a form to try each operation against the page's own
// origin. The page is self-contained: its script and styles are inline and
// it loads nothing but specURL and the calls a reader makes, so it works
// without internet access.
func DocsPage(specURL string) []byte {
	return []byte(strings.Replace(docsHTML, specPlaceholder, html.EscapeString(specURL), 1))
}
