package repo

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sync/errgroup"

	"cairn/repo/internal/region"
)

// The local index cache is a copy of the loaded, sorted index in a file of the user's
// cache folder, so that the next command on the same repository installs the table in
// one read instead of reading, decrypting, parsing and sorting every index file.
// FORMAT.md ("Local index cache") gives the layout. The file is sealed with the
// repository's key (a checksum in an unencrypted repository), and everything in it is
// checked as an index file's entries are before it is used; anything wrong with it is
// a miss, which costs a full load and nothing else.
const (
	cacheMagic      = "CAIRNIDX"
	cacheVersion    = 1
	cacheHeaderSize = 48
	cacheSealed     = 1 // protection byte: XChaCha20-Poly1305 under the repository's key
	cacheChecksum   = 0 // protection byte: BLAKE3-256 of header and body (unencrypted repositories)
	cacheNameSize   = 32
	cacheSumSize    = 32
	cacheNonceBase  = 16 // random bytes of each segment's nonce; the other 8 are its number
)

// cacheSegment is the plaintext of each sealed segment of a cache file (256 KiB): the file is
// sealed and written a segment at a time, so that writing it takes a segment of
// memory, not a copy of the table.
var cacheSegment = 256 << 10 // a variable for tests

// The bounds of a sealed file's segment size; anything else is a miss.
const (
	minCacheSegment = 64
	maxCacheSegment = 1 << 24
)

// errCacheMiss is every reason a cache file is not used; it never leaves this file.
// errCacheContent is the reasons found in a file that opened: any other miss is a file
// that is not there or could not be opened (Windows refuses while another command
// renames a new cache over it).
var (
	errCacheMiss    = errors.New("index cache miss")
	errCacheContent = fmt.Errorf("%w: its content", errCacheMiss)
)

// WithIndexCache keeps a copy of the repository's loaded index in dir, in a file named
// by the repository id, and installs it on the next LoadIndex when the repository's
// index files are the ones it was built from (or those and more, which are then read
// as a backup adds its own). A missing, stale or damaged copy costs a full load.
func WithIndexCache(dir string) Option { return func(o *options) { o.icache = dir } }

// indexCache is a handle's side of its index cache.
type indexCache struct {
	dir string // "" without a cache

	mu      sync.Mutex
	written []string // index files this handle wrote since the index was loaded (their chunks are in it)
}

// note records index files written by this handle whose chunks the in-memory index holds.
func (c *indexCache) note(names []ObjectID) {
	if c.dir == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		c.written = append(c.written, n.String())
	}
}

// takeWritten returns the noted index files and forgets them.
func (c *indexCache) takeWritten() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.written
	c.written = nil
	return w
}

// indexCachePath is the cache file of the repository; false without a cache, on a
// host whose byte order the file's layout is not, or for an id that could name
// another file (it comes from storage).
func (r *Repository) indexCachePath() (string, bool) {
	if r.icache.dir == "" || !littleEndian() || !validHex(r.cfg.ID, idLen) {
		return "", false
	}
	return filepath.Join(r.icache.dir, r.cfg.ID), true
}

// littleEndian reports whether the host stores words as the cache file does, so that
// its entries are read into the table as they are.
func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }

// cacheHeader is the plain part of a cache file, authenticated with the rest.
type cacheHeader struct {
	version, width, protection  byte
	id                          [idLen / 2]byte
	entries, dups, packs, names uint32
	segment                     uint32 // plaintext bytes per sealed segment; 0 when not sealed
}

func (h *cacheHeader) encode() []byte {
	b := make([]byte, cacheHeaderSize)
	copy(b, cacheMagic)
	b[8], b[9], b[10] = h.version, h.width, h.protection
	copy(b[12:28], h.id[:])
	binary.LittleEndian.PutUint32(b[28:], h.entries)
	binary.LittleEndian.PutUint32(b[32:], h.dups)
	binary.LittleEndian.PutUint32(b[36:], h.packs)
	binary.LittleEndian.PutUint32(b[40:], h.names)
	binary.LittleEndian.PutUint32(b[44:], h.segment)
	return b
}

func decodeCacheHeader(b []byte) (cacheHeader, bool) {
	var h cacheHeader
	if len(b) != cacheHeaderSize || string(b[:8]) != cacheMagic || b[11] != 0 {
		return h, false
	}
	h.version, h.width, h.protection = b[8], b[9], b[10]
	copy(h.id[:], b[12:28])
	h.entries = binary.LittleEndian.Uint32(b[28:])
	h.dups = binary.LittleEndian.Uint32(b[32:])
	h.packs = binary.LittleEndian.Uint32(b[36:])
	h.names = binary.LittleEndian.Uint32(b[40:])
	h.segment = binary.LittleEndian.Uint32(b[44:])
	if h.protection == cacheSealed && (h.segment < minCacheSegment || h.segment > maxCacheSegment) ||
		h.protection != cacheSealed && h.segment != 0 {
		return h, false
	}
	return h, true
}

// expected is the header this repository's cache file must have, counts aside.
func (r *Repository) cacheHeaderOf() (cacheHeader, bool) {
	h := cacheHeader{version: cacheVersion, width: 32, protection: cacheChecksum}
	if r.narrowIDs() {
		h.width = 16
	}
	if r.box != nil {
		h.protection = cacheSealed
	}
	if _, err := hex.Decode(h.id[:], []byte(r.cfg.ID)); err != nil {
		return h, false
	}
	return h, true
}

// sizes is the length of the body (entries, dups, packs, names), the number of sealed
// segments it is cut into, and the length of what follows the header in all (nonce
// base, segments and their tags; or body and checksum), in 64 bits: the counts are
// 32-bit, so nothing overflows.
func (h *cacheHeader) sizes(entrySize int) (body, segments, rest uint64) {
	body = (uint64(h.entries)+uint64(h.dups))*uint64(entrySize) + (uint64(h.packs)+uint64(h.names))*cacheNameSize
	if h.protection != cacheSealed {
		return body, 0, body + cacheSumSize
	}
	segments = max(1, (body+uint64(h.segment)-1)/uint64(h.segment)) // an empty body is one empty segment
	return body, segments, cacheNonceBase + body + segments*chacha20poly1305.Overhead
}

// segmentNonce is the nonce of sealed segment i of a file.
func segmentNonce(base []byte, i uint64) []byte {
	return binary.LittleEndian.AppendUint64(append(make([]byte, 0, chacha20poly1305.NonceSizeX), base...), i)
}

// readIndexCache installs the cache file in a new index and returns it with the names
// of the index files it was built from, sorted; errCacheMiss (wrapped) when there is no
// usable file.
func (r *Repository) readIndexCache() (*Index, []string, error) {
	path, ok := r.indexCachePath()
	if !ok {
		return nil, nil, errCacheMiss
	}
	want, ok := r.cacheHeaderOf()
	if !ok {
		return nil, nil, errCacheMiss
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errCacheMiss, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errCacheMiss, err)
	}
	hb := make([]byte, cacheHeaderSize)
	if _, err := io.ReadFull(f, hb); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %v", errCacheContent, err)
	}
	h, ok := decodeCacheHeader(hb)
	if !ok || h.version != want.version || h.width != want.width || h.protection != want.protection || h.id != want.id {
		return nil, nil, fmt.Errorf("%w: header of another version, width, protection or repository", errCacheContent)
	}
	x := newIndex(r.narrowIDs())
	var names []ObjectID
	switch s := x.s.(type) {
	case *entries[narrowKey]:
		names, err = installIndexCache(x, s, f, fi.Size(), &h, hb, r.box)
	case *entries[wideKey]:
		names, err = installIndexCache(x, s, f, fi.Size(), &h, hb, r.box)
	}
	if err != nil {
		return nil, nil, err
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n.String()
	}
	return x, out, nil
}

// installIndexCache reads the rest of a cache file (header h, its bytes hb, already
// read from f, size bytes long) straight into the table's region of x, opens it there
// and checks every entry as an index file's are checked, and installs it.
func installIndexCache[K key](x *Index, s *entries[K], f io.Reader, size int64, h *cacheHeader, hb []byte, k *box) (names []ObjectID, err error) {
	t := s.sorted
	es := t.entrySize()
	body, segments, rest := h.sizes(es)
	// Every count is bounded by the file's length before anything is allocated.
	if size < cacheHeaderSize || uint64(size-cacheHeaderSize) != rest {
		return nil, fmt.Errorf("%w: %d bytes, its counts make %d", errCacheContent, size, cacheHeaderSize+rest)
	}
	var base []byte
	if h.protection == cacheSealed {
		base = make([]byte, cacheNonceBase)
		if _, err := io.ReadFull(f, base); err != nil {
			return nil, fmt.Errorf("%w: %v", errCacheContent, err)
		}
		rest -= cacheNonceBase
	}
	n, d := int(h.entries), int(h.dups)
	t.grow(int((rest + uint64(es) - 1) / uint64(es)))
	defer func() {
		if err != nil {
			t.e = nil
			t.mem.Release()
		}
	}()
	buf := t.mem.Bytes()[:rest]
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%w: %v", errCacheContent, err)
	}
	var more [1]byte
	if m, _ := f.Read(more[:]); m != 0 {
		return nil, fmt.Errorf("%w: the file grew while read", errCacheContent)
	}
	if k != nil {
		// Each segment is decrypted where it lies and its plaintext moved down over
		// the tags before it: the plaintext is the table, no second copy is made.
		seg := uint64(h.segment)
		for i := range segments {
			start, plain := i*(seg+chacha20poly1305.Overhead), min(seg, body-i*seg)
			sealed := buf[start : start+plain+chacha20poly1305.Overhead]
			if _, err := k.aead.Open(sealed[:0], segmentNonce(base, i), sealed, hb); err != nil {
				return nil, fmt.Errorf("%w: authentication failed", errCacheContent)
			}
			copy(buf[i*seg:], sealed[:plain])
		}
	} else {
		sum := blake3.New()
		sum.Write(hb)
		sum.Write(buf[:body])
		if subtle.ConstantTimeCompare(sum.Sum(nil), buf[body:]) != 1 {
			return nil, fmt.Errorf("%w: checksum mismatch", errCacheContent)
		}
	}
	all := region.View[entry[K]](t.mem, n+d)
	e, dups := all[:n], all[n:n+d]
	packs := buf[(n+d)*es : (n+d)*es+int(h.packs)*cacheNameSize]
	nameBytes := buf[(n+d)*es+len(packs) : body]
	np := uint32(h.packs)
	for i := range e {
		if e[i].pack >= np || !metaValid(e[i].meta) || i > 0 && cmpKey(&e[i-1].k, &e[i].k) >= 0 {
			return nil, fmt.Errorf("%w: entry %d out of range or order", errCacheContent, i)
		}
	}
	for i := range dups {
		j, found := searchSorted(e, &dups[i].k)
		if dups[i].pack >= np || !metaValid(dups[i].meta) || !found || e[j].pack == dups[i].pack {
			return nil, fmt.Errorf("%w: further place %d out of range", errCacheContent, i)
		}
	}
	x.packs = make([]ObjectID, h.packs)
	x.packOrd = make(map[ObjectID]uint32, h.packs)
	for i := range x.packs {
		p := ObjectID(packs[i*cacheNameSize:])
		if _, twice := x.packOrd[p]; twice {
			return nil, fmt.Errorf("%w: pack %s listed twice", errCacheContent, p.Short())
		}
		x.packs[i], x.packOrd[p] = p, uint32(i)
	}
	names = make([]ObjectID, h.names)
	for i := range names {
		names[i] = ObjectID(nameBytes[i*cacheNameSize:])
		if i > 0 && bytes.Compare(names[i-1][:], names[i][:]) >= 0 {
			return nil, fmt.Errorf("%w: index file names out of order", errCacheContent)
		}
	}
	s.dups = slices.Clone(dups)
	t.e = e
	t.trim() // gives back the pages past the entries: the further places, packs and names were copied out
	buildDirectory(&s.dir, t.e)
	return names, nil
}

// metaValid reports whether m is a location packMeta makes from one that refFits:
// the index-file parser's check, for the packed form.
func metaValid(m uint64) bool {
	frameLen, offset, raw := unpackMeta(m)
	return refFits(frameLen, offset, raw) && packMeta(frameLen, offset, raw) == m
}

// LoadIndexFromStorage is LoadIndex reading every index file, whatever the local index
// cache holds (which it then brings up to date): for a check, which must see what the
// repository stores.
func (r *Repository) LoadIndexFromStorage(ctx context.Context) error {
	err := r.loadIndex(ctx, false)
	if errors.Is(err, ErrNotFound) {
		err = r.loadIndex(ctx, false)
	}
	return err
}

// loadCachedIndex installs the index from the cache when it was built from the index
// files names (sorted) or from some of them: the others (written since by other
// clients) are then read and added as a backup adds its own packs. hit is false when
// the cache is of no use: the caller loads every file.
func (r *Repository) loadCachedIndex(ctx context.Context, names []string) (hit bool, err error) {
	if r.icache.dir == "" {
		return false, nil
	}
	x, cached, err := r.readIndexCache()
	if err != nil {
		return false, nil // a miss: the full load follows
	}
	extra, ok := missingFrom(cached, names)
	if !ok {
		return false, nil // a name the listing lacks: a prune removed it
	}
	if len(extra) > 0 {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(4)
		for _, name := range extra {
			g.Go(func() error { return r.readIndexFile(gctx, name, x.add, x.addStored) })
		}
		if err := g.Wait(); err != nil {
			return true, err
		}
		x.merge()
	}
	r.installIndex(x, names)
	if len(extra) > 0 {
		r.saveIndexCache(names)
	}
	return true, nil
}

// missingFrom returns the names of all that sub lacks, both sorted; false when sub
// holds a name all lacks.
func missingFrom(sub, all []string) ([]string, bool) {
	var extra []string
	i := 0
	for _, n := range all {
		switch {
		case i < len(sub) && sub[i] == n:
			i++
		case i < len(sub) && sub[i] < n:
			return nil, false
		default:
			extra = append(extra, n)
		}
	}
	return extra, i == len(sub)
}

// addStored is add for a format 1 index file's stored entries.
func (x *Index) addStored(pack ObjectID, stored []byte) {
	refs := make([]BlobRef, len(stored)/packEntrySize)
	for i := range refs {
		refs[i] = readRef(stored[i*packEntrySize:])
	}
	x.add(pack, refs)
}
