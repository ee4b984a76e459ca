package chunk

// SIMD reports whether HashMany runs on the vector kernel (many_simd.go): built with
// GOEXPERIMENT=simd on amd64, on a CPU with AVX-512.
func SIMD() bool { return haveMany }
