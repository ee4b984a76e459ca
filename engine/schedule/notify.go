package schedule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Kinds of alert.
const (
	EventFailure   = "failure"   // a scheduled step failed
	EventRecovered = "recovered" // a step that failed worked again
)

// Event is the JSON body of an alert.
type Event struct {
	Event    string    `json:"event"` // EventFailure or EventRecovered
	Job      string    `json:"job"`   // the step: backup, retention, prune, check or copy
	Device   string    `json:"device,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Error    string    `json:"error,omitempty"`
	Snapshot string    `json:"snapshot,omitempty"`
	Message  string    `json:"message,omitempty"`
}

// NotifierConfig tunes a Notifier.
type NotifierConfig struct {
	URL    string
	Device string // put in every event
	Client *http.Client
	Clock  Clock
	Logger *slog.Logger
	// Attempts is how often one event is tried; 8 when 0. RetryMin is the first wait
	// between tries, doubling up to RetryMax: 2 s and 5 min when 0.
	Attempts           int
	RetryMin, RetryMax time.Duration
	Queue              int // events waiting at most; older ones are dropped first; 64 when 0
}

// Notifier posts events to a webhook from its own goroutine (Run), retrying each with
// backoff; Send never blocks the schedule. The URL's credentials and query are never
// logged.
type Notifier struct {
	cfg   NotifierConfig
	queue chan Event
}

// NewNotifier returns a notifier; start its Run.
func NewNotifier(cfg NotifierConfig) *Notifier {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 8
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 2 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 5 * time.Minute
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	return &Notifier{cfg: cfg, queue: make(chan Event, cfg.Queue)}
}

// Send queues an event. When the queue is full the oldest event is dropped. A nil
// notifier sends nothing.
func (n *Notifier) Send(e Event) {
	if n == nil {
		return
	}
	e.Device = n.cfg.Device
	for {
		select {
		case n.queue <- e:
			return
		default:
		}
		select {
		case old := <-n.queue:
			n.cfg.Logger.Warn("alert dropped: too many waiting", "event", old.Event, "job", old.Job)
		default:
		}
	}
}

// Run posts queued events until ctx ends; it returns then.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-n.queue:
			n.deliver(ctx, e)
		}
	}
}

// deliver posts one event, retrying with backoff; it gives up after Attempts tries.
func (n *Notifier) deliver(ctx context.Context, e Event) {
	wait := n.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := n.post(ctx, e)
		if err == nil {
			return
		}
		if attempt >= n.cfg.Attempts || ctx.Err() != nil {
			n.cfg.Logger.Warn("alert not delivered", "url", Redact(n.cfg.URL), "event", e.Event, "job", e.Job, "attempts", attempt, "err", err)
			return
		}
		n.cfg.Logger.Info("alert not delivered, retrying", "url", Redact(n.cfg.URL), "in", wait, "err", err)
		t := n.cfg.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		wait = min(2*wait, n.cfg.RetryMax)
	}
}

// post sends one event. Its error never holds the URL's credentials.
func (n *Notifier) post(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cairn")
	res, err := n.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", res.Status)
	}
	return nil
}

// Redact is a URL as it may be logged: no user, password or query.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a webhook URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
