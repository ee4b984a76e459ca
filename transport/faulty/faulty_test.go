package faulty_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/mem"
	"cairn/transport/transporttest"
)

func TestConformanceWithoutFaults(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Backend { return faulty.New(mem.New()) })
}

func TestRules(t *testing.T) {
	ctx := context.Background()
	f := faulty.New(mem.New()).Fail(faulty.FailNth("save", 2))
	h := transport.Handle{Kind: transport.Data, Name: "0123456789abcdef"}
	if err := f.Save(ctx, h, []byte("one")); err != nil {
		t.Fatal(err)
	}
	err := f.Save(ctx, h, []byte("one"))
	if !errors.Is(err, faulty.ErrInjected) || f.IsPermanent(err) {
		t.Fatalf("second save: %v (permanent %v)", err, f.IsPermanent(err))
	}
	if f.Calls("save") != 2 {
		t.Fatalf("calls = %d", f.Calls("save"))
	}
	f.Corrupt(func(transport.Handle) bool { return true })
	var got []byte
	f.Load(ctx, h, 0, 0, func(rd io.Reader) error { got, _ = io.ReadAll(rd); return nil })
	if string(got) == "one" {
		t.Fatal("corrupt load returned the stored bytes")
	}
	f.Clear()
	f.Truncate(func(transport.Handle) bool { return true })
	f.Load(ctx, h, 0, 0, func(rd io.Reader) error { got, _ = io.ReadAll(rd); return nil })
	if len(got) != 1 {
		t.Fatalf("truncated load returned %d bytes", len(got))
	}
}
