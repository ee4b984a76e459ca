package location

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]Location{
		"/srv/repo":         {"local", "/srv/repo"},
		"./repo":            {"local", "./repo"},
		"local:/srv/repo":   {"local", "/srv/repo"},
		`C:\repo`:           {"local", `C:\repo`},
		"repo.d:weird/name": {"local", "repo.d:weird/name"},
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "local:", "ftp://host/x", "s4:bucket"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
