package repo

import (
	"bufio"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"slices"
	"unsafe"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"
)

// Writing the local index cache (index_cache.go reads it): after a load that read
// index files, and when a handle that wrote index files of its own is released.

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
	_ = writeCacheFile(path, func(w io.Writer) error {
		switch s := r.idx.s.(type) {
		case *entries[narrowKey]:
			return encodeIndexCache(w, r.idx, s, &h, ids, r.box)
		case *entries[wideKey]:
			return encodeIndexCache(w, r.idx, s, &h, ids, r.box)
		}
		return nil
	})
}

// encodeIndexCache writes x as a cache file to w, a segment at a time.
func encodeIndexCache[K key](w io.Writer, x *Index, s *entries[K], h *cacheHeader, names []ObjectID, k *box) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(s.added) > 0 {
		s.merge()
	}
	h.entries, h.dups, h.packs, h.names = uint32(len(s.sorted.e)), uint32(len(s.dups)), uint32(len(x.packs)), uint32(len(names))
	c := &cacheWriter{w: w, k: k}
	if k != nil {
		h.segment = uint32(cacheSegment)
		c.base = make([]byte, cacheNonceBase)
		if _, err := rand.Read(c.base); err != nil {
			return err
		}
		c.seg = make([]byte, 0, cacheSegment+chacha20poly1305.Overhead)
	} else {
		c.sum = blake3.New()
	}
	c.ad = h.encode()
	if _, err := w.Write(c.ad); err != nil {
		return err
	}
	if k != nil {
		if _, err := w.Write(c.base); err != nil {
			return err
		}
	} else {
		c.sum.Write(c.ad)
	}
	c.write(entryBytes(s.sorted.e))
	c.write(entryBytes(s.dups))
	for _, p := range x.packs {
		c.write(p[:])
	}
	for _, n := range names {
		c.write(n[:])
	}
	return c.close()
}

// cacheWriter writes a cache file's body: through its checksum, or sealed a segment
// at a time.
type cacheWriter struct {
	w    io.Writer
	k    *box           // nil: not sealed
	ad   []byte         // the header, authenticated with every segment
	base []byte         // the nonce base
	seg  []byte         // the segment being filled, with room for its tag
	n    uint64         // segments written
	sum  *blake3.Hasher // not sealed: of header and body
	err  error
}

func (c *cacheWriter) write(p []byte) {
	if c.k == nil {
		c.sum.Write(p)
		if c.err == nil {
			_, c.err = c.w.Write(p)
		}
		return
	}
	full := cap(c.seg) - chacha20poly1305.Overhead
	for len(p) > 0 {
		take := min(len(p), full-len(c.seg))
		c.seg = append(c.seg, p[:take]...)
		p = p[take:]
		if len(c.seg) == full {
			c.flush()
		}
	}
}

// flush seals the segment in place and writes it.
func (c *cacheWriter) flush() {
	sealed := c.k.aead.Seal(c.seg[:0], segmentNonce(c.base, c.n), c.seg, c.ad)
	if c.err == nil {
		_, c.err = c.w.Write(sealed)
	}
	c.seg = c.seg[:0]
	c.n++
}

// close writes the last segment (an empty body is one empty segment) or the checksum.
func (c *cacheWriter) close() error {
	if c.k == nil {
		if c.err == nil {
			_, c.err = c.w.Write(c.sum.Sum(nil))
		}
		return c.err
	}
	if len(c.seg) > 0 || c.n == 0 {
		c.flush()
	}
	return c.err
}

// entryBytes is the memory of e as bytes: the layout the cache file holds on a
// little-endian host.
func entryBytes[K key](e []entry[K]) []byte {
	if len(e) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(e))), len(e)*int(unsafe.Sizeof(e[0])))
}

// writeCacheFile puts what write writes at path, whole or not at all: it goes to a
// temporary file beside it (mode 0600) renamed over it, so that commands writing it at
// the same time leave one whole file. It is not synced: a file torn by a crash fails
// its check and is a miss.
func writeCacheFile(path string, write func(w io.Writer) error) (err error) {
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
	bw := bufio.NewWriterSize(tmp, 1<<20) // few writes: on some machines each costs 0.1 ms whatever its size
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
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
