package repo

// freeList keeps up to cap(c) idle values for reuse.
type freeList[T any] struct{ c chan T }

func newFreeList[T any](n int) freeList[T] { return freeList[T]{c: make(chan T, n)} }

func (l freeList[T]) get() (v T, ok bool) {
	select {
	case v = <-l.c:
		return v, true
	default:
		return v, false
	}
}

func (l freeList[T]) put(v T) {
	select {
	case l.c <- v:
	default:
	}
}
