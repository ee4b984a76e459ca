package gendb

import "math/bits"

// rng is splitmix64: tiny, fast and good enough for test data. Every stream is
// seeded explicitly, so the output depends only on the seeds.
type rng struct{ s uint64 }

func newRNG(parts ...uint64) rng {
	h := uint64(0x243f6a8885a308d3)
	for _, p := range parts {
		h = mix(h ^ p)
	}
	return rng{h}
}

// mix is the splitmix64 finaliser.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// hashString folds a name into a seed part.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// chance is true with probability p.
func (r *rng) chance(p float64) bool { return float64(r.next()>>11) < p*(1<<53) }

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// pick returns a uniformly chosen element.
func pick[T any](r *rng, list []T) T { return list[r.intn(len(list))] }

// zipf returns an element, favouring the front of the list the way word use does.
func zipf[T any](r *rng, list []T) T {
	x := r.next()
	i, _ := bits.Mul64(x&0xffffffff<<32, uint64(len(list)))
	j, _ := bits.Mul64(x>>32<<32, i+1)
	return list[j]
}

// zipf2 is zipf with a steeper fall, like the words of English prose.
func zipf2[T any](r *rng, list []T) T {
	x := r.next()
	i, _ := bits.Mul64(x&0xfffff<<44, uint64(len(list)))
	i, _ = bits.Mul64(x>>20&0xfffff<<44, i+1)
	i, _ = bits.Mul64(x>>40<<40, i+1)
	return list[i]
}

// uid is a record id: a random (version 4) UUID, ordered as its text is.
type uid struct{ hi, lo uint64 }

func (r *rng) uid() uid {
	hi, lo := r.next(), r.next()
	hi = hi&^(0xf<<12) | 0x4<<12
	lo = lo&^(0x3<<62) | 0x2<<62
	return uid{hi, lo}
}

func (a uid) less(b uid) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a uid) compare(b uid) int {
	switch {
	case a.less(b):
		return -1
	case b.less(a):
		return 1
	}
	return 0
}

const uidLen = 36

var hexPairs = func() (t [512]byte) {
	const digits = "0123456789abcdef"
	for i := range 256 {
		t[2*i], t[2*i+1] = digits[i>>4], digits[i&15]
	}
	return t
}()

// appendUID appends the 36-character text form, 8-4-4-4-12 lowercase hex.
func appendUID(b []byte, u uid) []byte {
	var t [uidLen]byte
	put := func(at int, v uint64, bytes int) {
		for i := bytes - 1; i >= 0; i-- {
			c := v & 0xff
			t[at+2*i], t[at+2*i+1] = hexPairs[2*c], hexPairs[2*c+1]
			v >>= 8
		}
	}
	put(0, u.hi>>32, 4)
	put(9, u.hi>>16, 2)
	put(14, u.hi, 2)
	put(19, u.lo>>48, 2)
	put(24, u.lo, 6)
	t[8], t[13], t[18], t[23] = '-', '-', '-', '-'
	return append(b, t[:]...)
}
