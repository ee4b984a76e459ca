package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The lies of this file cost the client CPU and memory before any password is
// checked: key slots that ask argon2id for more than a machine has, and bodies that
// never end. cairn must refuse them quickly, reading a bounded number of bytes.

// endlessLimit is where an "endless" body of these tests ends after all: far past
// every bound cairn sets on a metadata read, so a client without bounds reads it to
// the end (and then fails on what it read, with another message), while one with
// bounds stops long before.
const endlessLimit = 512 << 20

// endless answers reads of the paths match accepts with head, then fill repeated
// until the client stops reading or endlessLimit bytes were sent; sent counts them.
func endless(match func(*http.Request) bool, head, fill string, sent *atomic.Int64) rule {
	return rule{match: match, answer: func(w http.ResponseWriter, r *http.Request, _ http.HandlerFunc) {
		if strings.HasSuffix(r.URL.Path, "/") {
			w.Header().Set("Content-Type", "application/vnd.x.restic.rest.v2")
		}
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodGet {
			return
		}
		block := []byte(head + strings.Repeat(fill, (64<<10)/len(fill)+1))
		for n := 0; n < endlessLimit; n += len(block) {
			m, err := w.Write(block)
			sent.Add(int64(m))
			if err != nil {
				return
			}
			block = []byte(strings.Repeat(fill, (64<<10)/len(fill)+1))
		}
	}}
}

// under matches reads of objects in a folder of a repository (not its listing).
func under(folder string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return strings.HasPrefix(r.URL.Path, folder) && len(r.URL.Path) > len(folder) &&
			(r.Method == http.MethodGet || r.Method == http.MethodHead)
	}
}

// endlessBodies: each metadata read (config, a key slot, an index file, a manifest,
// the listings of keys and index files) answered by a body without end. Each command
// fails with a message that says the object is too large, having read a bounded part.
func endlessBodies(t *testing.T, f *hostileFixture) {
	victim := f.repoName("endless")
	c := f.cli(victim)
	c.ok("init")
	c.ok("backup", f.db)
	name := strings.Repeat("ab", 32)
	listEntry := `{"name":"` + name + `","size":1},`
	for _, tc := range []struct {
		what       string
		match      func(*http.Request) bool
		head, fill string
		exit       int
		says       string
	}{
		{"config", reads("/" + victim + "/config"), "CAIRN\x01\x01\x00{", " ", exitDamaged, "too large for cairn to read"},
		{"key slot", under("/" + victim + "/keys/"), "CAIRN\x01\x05\x00{", " ", exitPassword, "too large for cairn to read"},
		{"index file", under("/" + victim + "/index/"), "CAIRN\x02\x03\x00", "\x00", exitDamaged, "too large for cairn to read"},
		{"manifest", under("/" + victim + "/snapshots/"), "CAIRN\x02\x04\x00", "\x00", exitDamaged, "too large for cairn to read"},
		{"keys listing", reads("/" + victim + "/keys/"), "[", listEntry, exitFailure, "too large for cairn to read"},
		{"index listing", reads("/" + victim + "/index/"), "[", listEntry, exitFailure, "too large for cairn to read"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			var sent atomic.Int64
			f.store.lie(endless(tc.match, tc.head, tc.fill, &sent))
			defer f.store.truth()
			c.fails(tc.exit, tc.says, "--no-cache", "snapshots")
			// The bounds are 64 KiB to 256 MiB; what a socket buffers comes on top.
			if n := sent.Load(); n >= endlessLimit {
				t.Errorf("the client read %d MiB of an endless %s", n>>20, tc.what)
			}
			f.nothingWritten()
		})
	}
	c.ok("check")
}

// absurdKeySlots: the storage holder adds key slots (validly named by the SHA-256 of
// their bytes) that ask argon2id for 4 GiB and 64 passes each, a minute or more of
// work and all the memory of a small machine. They are refused without deriving a
// key; with them listed first, only the first few slots are looked at, so opening
// fails with a message that says so instead of trying every slot.
func absurdKeySlots(t *testing.T, f *hostileFixture) {
	victim := f.repoName("slots")
	c := f.cli(victim)
	c.ok("init")
	c.ok("backup", f.db)

	var listing bytes.Buffer
	listing.WriteString("[")
	slots := []rule{}
	for i := 0; i < 40; i++ {
		var obj []byte
		var name string
		// Named by the SHA-256 of their bytes, as a slot must be, and drawn until the
		// name sorts before (almost surely) the real slot's, so they come first.
		for !strings.HasPrefix(name, "00") {
			salt, sealed := make([]byte, 32), make([]byte, 72)
			rand.Read(salt)
			rand.Read(sealed)
			js, err := json.Marshal(map[string]any{
				"created": time.Now().UTC(), "kdf": "argon2id",
				"time": 64, "memory_kib": 4 << 20, "threads": 1,
				"salt": salt, "sealed": sealed,
			})
			if err != nil {
				t.Fatal(err)
			}
			obj = append([]byte("CAIRN\x01\x05\x00"), js...)
			sum := sha256.Sum256(obj)
			name = hex.EncodeToString(sum[:])
		}
		slots = append(slots, serveBytes("/"+victim+"/keys/"+name, obj))
		fmt.Fprintf(&listing, `{"name":%q,"size":%d},`, name, len(obj))
	}
	for p := range listFiles(t, f.repoDir(victim)+"/keys") {
		if n := p[strings.LastIndex(p, "/")+1:]; len(n) == 64 {
			fmt.Fprintf(&listing, `{"name":%q,"size":1},`, n)
		}
	}
	body := bytes.TrimSuffix(listing.Bytes(), []byte(",")) // the last comma
	body = append(body, ']')
	list := serveBytes("/"+victim+"/keys/", body)
	f.store.lie(append(slots, list)...)
	start := time.Now()
	c.fails(exitPassword, "more key slots than cairn tries", "--no-cache", "snapshots")
	// Deriving one such key takes minutes and 4 GiB; refusing them all, well under that.
	if d := time.Since(start); d > time.Minute {
		t.Errorf("refusing 40 absurd key slots took %v", d)
	}
	f.nothingWritten()
	f.store.truth()
	c.ok("check")
}
