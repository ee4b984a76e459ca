//go:build !(goexperiment.simd && amd64)

package exported

// haveWide is false without the vector kernel.
const haveWide = false

// compactWide reads nothing without the vector kernel (built with GOEXPERIMENT=simd on
// amd64): compact reads every value.
func compactWide(p, buf []byte, i int) (n, next int) { return 0, i }
