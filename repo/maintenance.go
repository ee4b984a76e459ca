package repo

import (
	"context"
	"errors"
	"fmt"

	"cairn/chunk"
	"cairn/transport"
)

// Packs lists the stored packs and their sizes.
func (r *Repository) Packs(ctx context.Context) (map[ObjectID]int64, error) {
	out := map[ObjectID]int64{}
	err := r.be.List(ctx, transport.Data, func(fi transport.FileInfo) error {
		id, err := ParseObjectID(fi.Name)
		if err != nil {
			return fmt.Errorf("data/%s: %w", fi.Name, ErrForeign)
		}
		out[id] = fi.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	return out, nil
}

// LoadPack reads a whole pack, checks that its bytes match its name and returns its
// entry table.
func (r *Repository) LoadPack(ctx context.Context, name ObjectID) ([]byte, []BlobRef, error) {
	data, err := r.loadAll(ctx, transport.Handle{Kind: transport.Data, Name: name.String()})
	if err != nil {
		return nil, nil, err
	}
	if objectID(data) != name {
		return data, nil, fmt.Errorf("pack %s: content does not match its name: %w", name.Short(), ErrDamaged)
	}
	refs, err := parsePackEntries(data)
	if err != nil {
		return data, nil, fmt.Errorf("pack %s: %w", name.Short(), err)
	}
	return data, refs, nil
}

// VerifyChunk decodes a chunk from a loaded pack and checks it against its id.
func VerifyChunk(pack []byte, id chunk.ID, loc Location) error {
	end := int(loc.Offset) + int(loc.Length)
	if end > len(pack) {
		return fmt.Errorf("chunk %s lies past the end of pack %s: %w", id.Short(), loc.Pack.Short(), ErrDamaged)
	}
	_, err := decodeChunk(id, pack[loc.Offset:end], int(loc.Raw), nil)
	return err
}

// Rewrite is prune's one write step. It copies the chunks that keep accepts out of the
// packs in repack into new packs, writes one index for everything that stays, then
// removes the old index files and the packs in repack and drop. The order means a
// crash at any point leaves every snapshot readable: new data is durable before the
// old index goes, and the old index goes before the packs it named.
func (r *Repository) Rewrite(ctx context.Context, repack, drop map[ObjectID]bool, keep func(chunk.ID) bool) (RewriteStats, error) {
	var st RewriteStats
	oldIndex, err := r.IndexFiles(ctx)
	if err != nil {
		return st, err
	}
	fresh := indexFile{}
	var pw *packWriter
	flush := func() error {
		if pw == nil || len(pw.entries) == 0 {
			return nil
		}
		data, name := pw.finish()
		if err := r.save(ctx, transport.Handle{Kind: transport.Data, Name: name.String()}, data); err != nil {
			return err
		}
		fresh[name] = append([]BlobRef(nil), pw.entries...)
		st.PacksWritten++
		pw = nil
		return nil
	}
	copied := map[chunk.ID]bool{}
	for p := range repack {
		data, refs, err := r.LoadPack(ctx, p)
		if err != nil {
			return st, fmt.Errorf("repack: %w", err)
		}
		for _, e := range refs {
			if copied[e.ID] || !keep(e.ID) {
				continue
			}
			if err := VerifyChunk(data, e.ID, Location{Pack: p, Offset: e.Offset, Length: e.Length, Raw: e.Raw}); err != nil {
				return st, fmt.Errorf("repack: %w", err)
			}
			if pw == nil {
				pw = newPackWriter(r.cfg.PackSize)
			}
			pw.add(e.ID, data[e.Offset:e.Offset+e.Length], int(e.Raw))
			copied[e.ID] = true
			st.ChunksCopied++
			if pw.size() >= r.cfg.PackSize {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	// One index for what stays.
	r.idx.Each(func(id chunk.ID, loc Location) {
		if repack[loc.Pack] || drop[loc.Pack] || !keep(id) {
			return
		}
		fresh[loc.Pack] = append(fresh[loc.Pack], BlobRef{ID: id, Offset: loc.Offset, Length: loc.Length, Raw: loc.Raw})
	})
	if len(fresh) > 0 {
		if _, err := r.SaveIndex(ctx, fresh); err != nil {
			return st, err
		}
	}
	for _, name := range oldIndex {
		if err := r.be.Remove(ctx, transport.Handle{Kind: transport.Index, Name: name}); err != nil && !r.be.IsNotExist(err) {
			return st, fmt.Errorf("remove index %s: %w", name[:8], err)
		}
	}
	for _, set := range []map[ObjectID]bool{repack, drop} {
		for p := range set {
			err := r.be.Remove(ctx, transport.Handle{Kind: transport.Data, Name: p.String()})
			if err != nil && !r.be.IsNotExist(err) {
				return st, fmt.Errorf("remove pack %s: %w", p.Short(), err)
			}
			st.PacksRemoved++
		}
	}
	if err := r.LoadIndex(ctx); err != nil {
		return st, err
	}
	return st, nil
}

// RewriteStats counts what Rewrite did.
type RewriteStats struct {
	PacksWritten, PacksRemoved, ChunksCopied int
}

// IsDamage reports whether err means damaged or missing repository data, as opposed
// to a transport fault.
func IsDamage(err error) bool {
	return errors.Is(err, ErrDamaged) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrForeign)
}
