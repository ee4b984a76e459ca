//go:build wine

package winegap

import _ "unsafe" // for go:linkname

// deleteatFallback is internal/syscall/windows.TestDeleteatFallback: when set, Deleteat
// marks a file for deletion with FileDispositionInfo instead of
// FileDispositionInformationEx.
//
//go:linkname deleteatFallback internal/syscall/windows.TestDeleteatFallback
var deleteatFallback bool

func init() { deleteatFallback = true }
