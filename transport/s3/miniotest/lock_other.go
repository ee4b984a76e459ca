//go:build !unix

package miniotest

// lock does nothing here: concurrent builds each rename a complete binary into place.
func lock(string) (unlock func(), err error) { return func() {}, nil }
