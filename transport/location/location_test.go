package location

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]Location{
		"/srv/repo":                           {"local", "/srv/repo"},
		"./repo":                              {"local", "./repo"},
		"local:/srv/repo":                     {"local", "/srv/repo"},
		`C:\repo`:                             {"local", `C:\repo`},
		"repo.d:weird/name":                   {"local", "repo.d:weird/name"},
		"rest:http://u:p@127.0.0.1:8000/repo": {"rest", "http://u:p@127.0.0.1:8000/repo"},
		"rest:https://host/x":                 {"rest", "https://host/x"},
		"s3:http://127.0.0.1:9000/bucket/pre": {"s3", "http://127.0.0.1:9000/bucket/pre"},
		"s3:https://s3.example.com/bucket":    {"s3", "https://s3.example.com/bucket"},
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "local:", "ftp://host/x", "s4:bucket", "rest:", "rest:ftp://x", "http://host/repo", "s3:", "s3:bucket/x", "s3:ftp://host/b"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
