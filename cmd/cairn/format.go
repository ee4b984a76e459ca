package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"cairn/engine"
)

// humanBytes prints a byte count in binary units: 0 B, 1023 B, 1.5 KiB, 12.3 MiB.
func humanBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= 1024
		if v < 1024 && v > -1024 || unit == "TiB" {
			return fmt.Sprintf("%.1f %s", v, unit)
		}
	}
	return ""
}

// parseSize reads 4096, 64KiB, 64K, 1.5MiB, 2G (binary units).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"tib", 1 << 40}, {"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q (examples: 4096, 64KiB, 1.5GiB)", s)
	}
	return int64(v * float64(mult)), nil
}

// humanDuration rounds a duration for people.
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// bar draws a one-line progress bar on a terminal, at most ten times a second.
type bar struct {
	mu   sync.Mutex
	w    io.Writer
	last time.Time
	drew bool
}

func (e *env) progress() engine.Progress {
	if !e.isTerminal || e.opts.JSON || e.opts.NoProgress {
		return nil
	}
	return &bar{w: e.stderr}
}

func (b *bar) Report(ev engine.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ev.Phase != engine.PhaseDone && time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	if ev.Phase == engine.PhaseDone {
		if b.drew {
			fmt.Fprint(b.w, "\r\033[K")
		}
		return
	}
	line := fmt.Sprintf("%-7s %s", ev.Phase, humanBytes(ev.BytesDone))
	if ev.BytesTotal > 0 {
		frac := float64(ev.BytesDone) / float64(ev.BytesTotal)
		n := int(frac * 30)
		line = fmt.Sprintf("%-7s [%s%s] %5.1f%% %s / %s", ev.Phase, strings.Repeat("=", n), strings.Repeat(" ", 30-n), 100*frac, humanBytes(ev.BytesDone), humanBytes(ev.BytesTotal))
	} else if ev.ItemsTotal > 0 {
		line = fmt.Sprintf("%-7s %d / %d", ev.Phase, ev.ItemsDone, ev.ItemsTotal)
	}
	if ev.NewBytes > 0 {
		line += ", new " + humanBytes(ev.NewBytes)
	}
	if ev.Collection != "" {
		line += "  " + ev.Collection
	}
	if ev.Elapsed > 0 && ev.BytesDone > 0 {
		line += fmt.Sprintf("  %s/s", humanBytes(int64(float64(ev.BytesDone)/ev.Elapsed.Seconds())))
	}
	fmt.Fprintf(b.w, "\r\033[K%s", line)
	b.drew = true
}
