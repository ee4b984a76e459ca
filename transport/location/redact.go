package location

import (
	"net/url"
	"strings"
)

// Redact hides the password of a location or URL that carries one
// (rest:https://user:secret@host/repo becomes rest:https://user:xxxxx@host/repo), for
// logs, settings printouts and the dashboard.
func Redact(s string) string {
	prefix, rest := "", s
	if i := strings.Index(s, ":"); i > 0 && !strings.HasPrefix(s[i:], "://") {
		prefix, rest = s[:i+1], s[i+1:]
	}
	u, err := url.Parse(rest)
	if err != nil || u.User == nil {
		return s
	}
	return prefix + u.Redacted()
}
