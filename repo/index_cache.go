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
	"unsafe"

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
)

// errCacheMiss is every reason a cache file is not used; it never leaves this file.
var errCacheMiss = errors.New("index cache miss")

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
	return b
}

func decodeCacheHeader(b []byte) (cacheHeader, bool) {
	var h cacheHeader
	if len(b) != cacheHeaderSize || string(b[:8]) != cacheMagic || b[11] != 0 || !allZero(b[44:48]) {
		return h, false
	}
	h.version, h.width, h.protection = b[8], b[9], b[10]
	copy(h.id[:], b[12:28])
	h.entries = binary.LittleEndian.Uint32(b[28:])
	h.dups = binary.LittleEndian.Uint32(b[32:])
	h.packs = binary.LittleEndian.Uint32(b[36:])
	h.names = binary.LittleEndian.Uint32(b[40:])
	return h, true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
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

// sizes is the length of the body (entries, dups, packs, names) and of what follows
// the header in all (nonce, body, tag or checksum), in 64 bits: the counts are
// 32-bit, so nothing overflows.
func (h *cacheHeader) sizes(entrySize int) (body, rest uint64) {
	body = (uint64(h.entries)+uint64(h.dups))*uint64(entrySize) + (uint64(h.packs)+uint64(h.names))*cacheNameSize
	if h.protection == cacheSealed {
		return body, chacha20poly1305.NonceSizeX + body + chacha20poly1305.Overhead
	}
	return body, body + cacheSumSize
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
		return nil, nil, fmt.Errorf("%w: header: %v", errCacheMiss, err)
	}
	h, ok := decodeCacheHeader(hb)
	if !ok || h.version != want.version || h.width != want.width || h.protection != want.protection || h.id != want.id {
		return nil, nil, fmt.Errorf("%w: header of another version, width, protection or repository", errCacheMiss)
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
	body, rest := h.sizes(es)
	// Every count is bounded by the file's length before anything is allocated.
	if size < cacheHeaderSize || uint64(size-cacheHeaderSize) != rest {
		return nil, fmt.Errorf("%w: %d bytes, its counts make %d", errCacheMiss, size, cacheHeaderSize+rest)
	}
	var nonce []byte
	trailer := cacheSumSize
	if h.protection == cacheSealed {
		nonce = make([]byte, chacha20poly1305.NonceSizeX)
		if _, err := io.ReadFull(f, nonce); err != nil {
			return nil, fmt.Errorf("%w: %v", errCacheMiss, err)
		}
		trailer = chacha20poly1305.Overhead
	}
	n, d := int(h.entries), int(h.dups)
	t.grow(int((body + uint64(trailer) + uint64(es) - 1) / uint64(es)))
	defer func() {
		if err != nil {
			t.e = nil
			t.mem.Release()
		}
	}()
	buf := t.mem.Bytes()[:body+uint64(trailer)]
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%w: %v", errCacheMiss, err)
	}
	var more [1]byte
	if m, _ := f.Read(more[:]); m != 0 {
		return nil, fmt.Errorf("%w: the file grew while read", errCacheMiss)
	}
	if k != nil {
		// Decrypted where it lies: the plaintext is the table.
		if _, err := k.aead.Open(buf[:0], nonce, buf, hb); err != nil {
			return nil, fmt.Errorf("%w: authentication failed", errCacheMiss)
		}
	} else {
		sum := blake3.New()
		sum.Write(hb)
		sum.Write(buf[:body])
		if subtle.ConstantTimeCompare(sum.Sum(nil), buf[body:]) != 1 {
			return nil, fmt.Errorf("%w: checksum mismatch", errCacheMiss)
		}
	}
	all := region.View[entry[K]](t.mem, n+d)
	e, dups := all[:n], all[n:n+d]
	packs := buf[(n+d)*es : (n+d)*es+int(h.packs)*cacheNameSize]
	nameBytes := buf[(n+d)*es+len(packs) : body]
	np := uint32(h.packs)
	for i := range e {
		if e[i].pack >= np || !metaValid(e[i].meta) || i > 0 && cmpKey(&e[i-1].k, &e[i].k) >= 0 {
			return nil, fmt.Errorf("%w: entry %d out of range or order", errCacheMiss, i)
		}
	}
	for i := range dups {
		j, found := searchSorted(e, &dups[i].k)
		if dups[i].pack >= np || !metaValid(dups[i].meta) || !found || e[j].pack == dups[i].pack {
			return nil, fmt.Errorf("%w: further place %d out of range", errCacheMiss, i)
		}
	}
	x.packs = make([]ObjectID, h.packs)
	x.packOrd = make(map[ObjectID]uint32, h.packs)
	for i := range x.packs {
		p := ObjectID(packs[i*cacheNameSize:])
		if _, twice := x.packOrd[p]; twice {
			return nil, fmt.Errorf("%w: pack %s listed twice", errCacheMiss, p.Short())
		}
		x.packs[i], x.packOrd[p] = p, uint32(i)
	}
	names = make([]ObjectID, h.names)
	for i := range names {
		names[i] = ObjectID(nameBytes[i*cacheNameSize:])
		if i > 0 && bytes.Compare(names[i-1][:], names[i][:]) >= 0 {
			return nil, fmt.Errorf("%w: index file names out of order", errCacheMiss)
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

// saveIndexCache writes the cache of the in-memory index, which holds the chunks of
// exactly the index files names (and perhaps chunks of others the repository lists:
// the next load reads those again). Best effort: a failure costs the next command a
// full load.
func (r *Repository) saveIndexCache(names []string) {
	path, ok := r.indexCachePath()
	if !ok {
		return
	}
	h, ok := r.cacheHeaderOf()
	if !ok {
		return
	}
	ids := make([]ObjectID, len(names))
	for i, n := range names {
		id, err := ParseObjectID(n)
		if err != nil {
			return // a name the file cannot hold; the next load reads that file
		}
		ids[i] = id
	}
	slices.SortFunc(ids, compareIDs)
	ids = slices.Compact(ids)
	type scratch struct{ _ byte }
	owner := &scratch{}
	mem := region.New(owner, false) // the sealed copy lives outside the Go heap, briefly
	defer mem.Release()
	var data []byte
	switch s := r.idx.s.(type) {
	case *entries[narrowKey]:
		data = encodeIndexCache(r.idx, s, &h, ids, r.box, mem)
	case *entries[wideKey]:
		data = encodeIndexCache(r.idx, s, &h, ids, r.box, mem)
	}
	_ = writeCacheFile(path, data)
}

// encodeIndexCache lays x out as a cache file in mem and returns its bytes (in mem).
func encodeIndexCache[K key](x *Index, s *entries[K], h *cacheHeader, names []ObjectID, k *box, mem *region.Region) []byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(s.added) > 0 {
		s.merge()
	}
	e := s.sorted.e
	h.entries, h.dups, h.packs, h.names = uint32(len(e)), uint32(len(s.dups)), uint32(len(x.packs)), uint32(len(names))
	es := s.sorted.entrySize()
	body, rest := h.sizes(es)
	total := cacheHeaderSize + int(rest)
	mem.Grow(total, 0)
	b := mem.Bytes()[:total]
	hb := h.encode()
	copy(b, hb)
	off := cacheHeaderSize
	if k != nil {
		off += chacha20poly1305.NonceSizeX
	}
	start := off
	off += copy(b[off:], entryBytes(e))
	off += copy(b[off:], entryBytes(s.dups))
	for _, p := range x.packs {
		off += copy(b[off:], p[:])
	}
	for _, n := range names {
		off += copy(b[off:], n[:])
	}
	if k != nil {
		return k.sealAt(b[:off], cacheHeaderSize, hb)
	}
	sum := blake3.New()
	sum.Write(b[:cacheHeaderSize])
	sum.Write(b[start : start+int(body)])
	return sum.Sum(b[:off])
}

// entryBytes is the memory of e as bytes: the layout the cache file holds on a
// little-endian host.
func entryBytes[K key](e []entry[K]) []byte {
	if len(e) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(e))), len(e)*int(unsafe.Sizeof(e[0])))
}

// writeCacheFile puts data at path whole or not at all: written to a temporary file
// beside it (mode 0600) and renamed over it, so that commands writing it at the same
// time leave one whole file. It is not synced: a file torn by a crash fails its check
// and is a miss.
func writeCacheFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
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

// saveWrittenIndexCache writes the cache when this handle wrote index files since its
// index was loaded (a backup's Flush), for the loaded files and those: the next
// command then reads none of them. Nothing is written while packs wait for their
// index file (the index holds chunks no index file names yet) or after a failed write.
func (r *Repository) saveWrittenIndexCache() {
	written := r.icache.takeWritten()
	if len(written) == 0 {
		return
	}
	r.mu.Lock()
	settled := len(r.unindex) == 0 && r.failed == nil
	r.mu.Unlock()
	if !settled {
		return
	}
	r.saveIndexCache(slices.Concat(r.loadedIndex, written))
}
