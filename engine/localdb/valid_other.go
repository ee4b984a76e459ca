//go:build !(goexperiment.simd && amd64)

package localdb

// haveWide is false without the vector kernel (built with GOEXPERIMENT=simd on amd64).
const haveWide = false

// plainRun looks at nothing without the vector kernel: skipString reads every string
// eight bytes at a time.
func plainRun([]byte) int { return 0 }
