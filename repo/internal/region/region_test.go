package region

import (
	"runtime"
	"testing"
	"time"
)

// TestGrowKeepsBytes: a region grown many times (moved by the kernel when mapped)
// keeps what was written, on Linux in a mapping, elsewhere on the heap.
func TestGrowKeepsBytes(t *testing.T) {
	owner := new(int)
	m := New(owner, false)
	used := 0
	for n := 1; n <= 48<<20; n = n*3 + 7 {
		m.Grow(n, used)
		if len(m.Bytes()) < n {
			t.Fatalf("Grow(%d) left %d bytes", n, len(m.Bytes()))
		}
		b := m.Bytes()
		for i := used; i < n; i++ {
			b[i] = byte(i * 7)
		}
		used = n
	}
	for i, c := range m.Bytes()[:used] {
		if c != byte(i*7) {
			t.Fatalf("byte %d of %d changed by growing", i, used)
		}
	}
	if runtime.GOOS == "linux" && !m.Mapped() {
		t.Fatal("region is not a mapping on Linux")
	}
	m.Release()
	if m.Bytes() != nil || m.Mapped() {
		t.Fatal("Release left the region in place")
	}
	runtime.KeepAlive(owner)
}

// TestTrimKeepsBytes: trimming gives back what lies past the bytes in use and keeps
// them; on the heap it leaves no more than a 64th of them as room.
func TestTrimKeepsBytes(t *testing.T) {
	for _, used := range []int{0, 1, 4095, 4096, 1 << 20, 3<<20 + 5} {
		owner := new(int)
		m := New(owner, false)
		m.Grow(8<<20, 0)
		b := m.Bytes()
		for i := range used {
			b[i] = byte(i*13 + 1)
		}
		m.Trim(used)
		b = m.Bytes()
		if len(b) < used || !m.Mapped() && len(b)-used > used/64 {
			t.Fatalf("Trim(%d): %d bytes left (mapped %v)", used, len(b), m.Mapped())
		}
		for i := range used {
			if b[i] != byte(i*13+1) {
				t.Fatalf("Trim(%d) changed byte %d", used, i)
			}
		}
		m.Release()
		runtime.KeepAlive(owner)
	}
}

// TestView: a region viewed as an array of a pointer-free type holds as many as fit,
// n of them in use, over the region's own bytes.
func TestView(t *testing.T) {
	type pair struct{ a, b uint64 }
	owner := new(int)
	m := New(owner, false)
	if got := View[pair](m, 0); got != nil {
		t.Fatalf("view of an empty region: %d", len(got))
	}
	m.Grow(1000*16, 0)
	v := View[pair](m, 10)
	if len(v) != 10 || cap(v) != len(m.Bytes())/16 {
		t.Fatalf("view: len %d cap %d over %d bytes", len(v), cap(v), len(m.Bytes()))
	}
	v[9] = pair{a: 0x0102030405060708}
	if m.Bytes()[9*16] != 0x08 && m.Bytes()[9*16+7] != 0x08 {
		t.Fatal("view does not share the region's bytes")
	}
	m.Release()
	runtime.KeepAlive(owner)
}

// TestReleasedWithOwner: a region goes when its owner is collected.
func TestReleasedWithOwner(t *testing.T) {
	owner := new([64]byte)
	m := New(owner, false)
	m.Grow(1<<20, 0)
	owner = nil
	waitFor(t, "region released after its owner became unreachable", func() bool { return m.Bytes() == nil })
}

// TestSparedRegionReused: a collected owner's spared region is not unmapped (a
// transport may still read a pack it was given) but emptied, and a later NewSpared
// takes it.
func TestSparedRegionReused(t *testing.T) {
	owner := new([64]byte)
	m := NewSpared(owner)
	m.Grow(1<<20, 0)
	copy(m.Bytes(), "a pack's bytes")
	if !m.Mapped() {
		t.Skip("regions are on the heap here")
	}
	owner = nil
	waitFor(t, "region spared after its owner became unreachable", func() bool { return spared.has(m) })
	if m.Bytes() == nil || m.Bytes()[0] != 0 || m.Bytes()[5] != 0 {
		t.Fatal("spared region is unmapped or still holds its bytes")
	}
	// Regions of owners collected meanwhile may be spared after this one: they are
	// taken last spared first, until this one.
	var held []*[64]byte
	for {
		o := new([64]byte)
		held = append(held, o)
		if NewSpared(o) == m {
			break
		}
		if len(held) > 1000 {
			t.Fatal("no later NewSpared took the spared region")
		}
	}
	runtime.KeepAlive(held)
}

// waitFor collects garbage until cond holds, for 10 s at most: cleanups run on the
// collector's schedule, which nothing signals.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within 10 s", what)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
