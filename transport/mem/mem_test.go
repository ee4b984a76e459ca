package mem_test

import (
	"testing"

	"cairn/transport"
	"cairn/transport/mem"
	"cairn/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Backend { return mem.New() })
}
