//go:build wine

package repo

// Under Wine (make test-windows), t.TempDir's cleanup needs Go's older delete path.
import _ "cairn/transport/winegap"
