package repo

import (
	"runtime"
	"testing"
	"time"
)

// TestPackWriterReusesSparedRegion: a collected pack writer's region goes to a later
// pack writer, which writes its own header into it, not after what was there.
func TestPackWriterReusesSparedRegion(t *testing.T) {
	p := newPackWriter(1<<20, nil)
	p.addSection(make([]byte, 100<<10), nil)
	m := p.mem
	if !m.Mapped() {
		t.Skip("pack buffers are on the heap here")
	}
	p = nil
	var q *packWriter
	var held []*packWriter
	deadline := time.Now().Add(10 * time.Second)
	for q = newPackWriter(1<<20, nil); q.mem != m; q = newPackWriter(1<<20, nil) {
		// Regions of pack writers collected meanwhile are taken first: keep them.
		if held = append(held, q); time.Now().After(deadline) {
			t.Fatal("no pack writer took the region of a collected one within 10 s")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if len(q.buf) != headerSize || string(q.buf[:len(magic)]) != magic {
		t.Fatalf("pack writer in a reused region starts with %d bytes %q", len(q.buf), q.buf[:min(len(q.buf), 8)])
	}
	runtime.KeepAlive(held)
}
