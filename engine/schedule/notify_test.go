package schedule_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/engine/schedule"
)

// TestNotifierRetriesAndHidesCredentials: an alert the webhook refuses is posted
// again until it is taken; Send does not wait for it; the log never shows the
// URL's user, password or query.
func TestNotifierRetriesAndHidesCredentials(t *testing.T) {
	var mu sync.Mutex
	tries := 0
	got := make(chan schedule.Event, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tries++
		n := tries
		mu.Unlock()
		if n < 3 {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		var e schedule.Event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			t.Error(err)
		}
		got <- e
	}))
	defer srv.Close()
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	url := strings.Replace(srv.URL, "http://", "http://hook:pa55word@", 1) + "/alert?token=T0K3N"
	n := schedule.NewNotifier(schedule.NotifierConfig{URL: url, Device: "laptop", Logger: logger, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	n.Send(schedule.Event{Event: schedule.EventFailure, Job: "backup", Error: "server gone"})
	select {
	case e := <-got:
		if e.Event != "failure" || e.Job != "backup" || e.Error != "server gone" || e.Device != "laptop" {
			t.Fatalf("event %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the alert never arrived")
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "retrying") {
		t.Fatalf("the refused tries were not logged:\n%s", logs.String())
	}
	for _, secret := range []string{"pa55word", "T0K3N", "hook:"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the log shows %q:\n%s", secret, logs.String())
		}
	}
}

// TestNotifierUnreachableLogsNoCredentials: a webhook that cannot be reached is given
// up after its tries, and the transport's error, which names the URL, is logged
// without the credentials.
func TestNotifierUnreachableLogsNoCredentials(t *testing.T) {
	var logs bytes.Buffer
	gaveUp := make(chan struct{})
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		if bytes.Contains(p, []byte("not delivered\"")) || bytes.Contains(p, []byte("msg=\"alert not delivered\" ")) {
			defer close(gaveUp)
		}
		return logs.Write(p)
	}), nil))
	// A port nothing listens on.
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	url := strings.Replace(addr, "http://", "http://hook:pa55word@", 1) + "/?token=T0K3N"
	n := schedule.NewNotifier(schedule.NotifierConfig{URL: url, Logger: logger, Attempts: 2, RetryMin: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	n.Send(schedule.Event{Event: schedule.EventFailure, Job: "prune"})
	select {
	case <-gaveUp:
	case <-time.After(10 * time.Second):
		t.Fatalf("no give-up logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "pa55word") || strings.Contains(logs.String(), "T0K3N") {
		t.Fatalf("the log shows the URL's credentials:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
