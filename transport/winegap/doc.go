// Package winegap fills a gap of Wine 8.0 for cairn's Windows test binaries, which
// make test-windows builds with the tag "wine" and runs under Debian's wine64.
//
// Go's os.RemoveAll deletes each entry with NtSetInformationFile's
// FileDispositionInformationEx (POSIX delete semantics, Windows 10 1607 and later).
// Wine 8.0 does not implement that class and answers STATUS_NOT_IMPLEMENTED ("Invalid
// function"), which Go does not take for "unsupported", so every t.TempDir cleanup
// fails there. Imported, this package switches Go to the path it takes on older
// Windows (FileDispositionInfo), which Wine has. It reaches into the standard library
// with a linkname, so the binaries are linked with -ldflags=-checklinkname=0; nothing
// but those test binaries imports it, and cairn itself never does.
package winegap
