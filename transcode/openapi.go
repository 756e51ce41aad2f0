package transcode

import (
	"net/http"
	"strconv"

	"github.com/bouncer-proxy/bouncer/transcode/openapi"
)

// serveDocs answers the route's OpenAPI document and docs page; false when
// r asks for neither.
func (h *Handler) serveDocs(w http.ResponseWriter, r *http.Request, t *table) bool {
	o := h.cfg.OpenAPI
	if o == nil || (r.URL.Path != o.Path && (o.DocsPath == "" || r.URL.Path != o.DocsPath)) {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, http.StatusMethodNotAllowed, "the API document is read with GET")
		return true
	}
	var body []byte
	ctype := "application/json"
	if r.URL.Path == o.DocsPath {
		body, ctype = openapi.DocsPage(o.Path), "text/html; charset=utf-8"
		// The page's script and styles are inline; it may call this origin only.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	} else {
		if t == nil {
			writeError(w, r, http.StatusServiceUnavailable, "the descriptors of upstream "+h.cfg.Upstream+" are not available yet")
			return true
		}
		var err error
		if body, err = h.document(t); err != nil {
			writeError(w, r, http.StatusInternalServerError, "the API document cannot be built")
			return true
		}
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
	return true
}

// document builds t's OpenAPI document once.
func (h *Handler) document(t *table) ([]byte, error) {
	t.docOnce.Do(func() {
		ops := make([]openapi.Operation, 0, len(t.bindings))
		for _, b := range t.bindings {
			op := openapi.Operation{HTTPMethod: b.httpMethod, Template: b.tmpl, Method: b.method, Status: b.status}
			switch b.body {
			case bodyAll:
				op.Body = "*"
			case bodyField:
				op.Body = b.bodyPath.String()
			}
			if b.respPath != nil {
				op.ResponseBody = b.respPath.String()
			}
			ops = append(ops, op)
		}
		o := h.cfg.OpenAPI
		title, version := o.Title, o.Version
		if title == "" {
			title = h.cfg.Upstream
		}
		if version == "" {
			version = shortDigest(t.set.Digest)
		}
		t.doc, t.docErr = openapi.Build(ops, openapi.Options{Title: title, Version: version,
			UseProtoNames: h.cfg.JSON.UseProtoNames, EmitDefaults: h.cfg.JSON.EmitDefaults})
		if t.docErr != nil {
			h.log.Error("transcode: OpenAPI document failed", "upstream", h.cfg.Upstream, "err", t.docErr)
		}
	})
	return t.doc, t.docErr
}
