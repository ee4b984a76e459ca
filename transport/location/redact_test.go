package location

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"local:/srv/backups", "local:/srv/backups"},
		{"rest:https://user:secret@host:8000/repo/", "rest:https://user:xxxxx@host:8000/repo/"},
		{"s3:https://key:secret@s3.example/bucket", "s3:https://key:xxxxx@s3.example/bucket"},
		{"mem:", "mem:"},
	} {
		if got := Redact(tc.in); got != tc.want || strings.Contains(got, "secret") {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
