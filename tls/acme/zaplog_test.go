package acme

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestZapToSlog checks the bridge certmagic logs through: levels are
// mapped (info becomes debug), fields and logger names carried over.
func TestZapToSlog(t *testing.T) {
	var buf lockedBuffer
	z := zapToSlog(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	z.Info("chatty step", zap.String("identifier", "a.test"))
	z.Named("obtain").With(zap.String("identifier", "b.test")).Warn("slow", zap.Error(errors.New("boom")))
	z.Error("broken", zap.Int("attempt", 2))
	out := buf.String()
	for _, want := range []string{
		`level=WARN msg=slow logger=certmagic.obtain error=boom identifier=b.test`,
		`level=ERROR msg=broken attempt=2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "chatty step") {
		t.Errorf("certmagic's info line reached an info-level log:\n%s", out)
	}
}
