package limit

import (
	"context"
	"testing"
	"time"

	"cairn/transport"
	"cairn/transport/mem"
	"cairn/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Backend { return New(mem.New(), 1<<30, 1<<30) })
}

// TestPacing uses a fake clock: 1 MiB at 256 KiB/s takes four seconds, less the
// one-second burst.
func TestPacing(t *testing.T) {
	now := time.Unix(0, 0)
	var slept time.Duration
	clock := func() time.Time { return now }
	sleep := func(_ context.Context, d time.Duration) error { slept += d; now = now.Add(d); return nil }
	l := newWithClock(mem.New(), 256<<10, 128<<10, clock, sleep)
	ctx := context.Background()
	h := transport.Handle{Kind: transport.Data, Name: "00000000000000000000000000000000000000000000000000000000000000aa"}
	data := make([]byte, 1<<20)
	if err := l.Save(ctx, h, data); err != nil {
		t.Fatal(err)
	}
	if slept != 3*time.Second {
		t.Fatalf("upload of 1 MiB at 256 KiB/s slept %v, want 3s", slept)
	}
	slept = 0
	now = now.Add(10 * time.Second)
	if _, err := transport.LoadAll(ctx, l, h); err != nil {
		t.Fatal(err)
	}
	if slept < 6*time.Second || slept > 8*time.Second {
		t.Fatalf("download of 1 MiB at 128 KiB/s slept %v, want about 7s", slept)
	}
}
