//go:build !(goexperiment.simd && amd64)

package chunk

// haveMany is false without the vector kernel (built with GOEXPERIMENT=simd on amd64).
const haveMany = false

func (h *Hasher) hashMany(msgs [][]byte, out []ID) {
	for i, m := range msgs {
		out[i] = h.Hash(m)
	}
}
