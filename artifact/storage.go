package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/source"
)

// Storage is what a controller needs from an artifact store: write an
// artifact atomically, read it back, list, remove and garbage-collect the
// artifacts of an object, and serve them over HTTP. Store, the filesystem
// implementation, is the embedded default; another backend (an object
// store, say) can stand in for it behind this interface.
//
// Artifacts are addressed by their Path, `<kind>/<namespace>/<name>/<file>`
// (see ArtifactPath). Exists, Remove and RemoveAll take no context: they
// are expected to be quick local operations.
type Storage interface {
	// NewArtifact returns the Artifact for an object's file with Path, URL
	// and Revision set; it writes nothing.
	NewArtifact(kind, namespace, name, revision, filename string) Artifact
	// Put stores everything read from r as a's file, replacing any previous
	// content atomically, and returns a with Digest, Size and
	// LastUpdateTime set.
	Put(ctx context.Context, a Artifact, r io.Reader) (Artifact, error)
	// ArchiveSnapshot packs dir into a content-addressed artifact of the
	// object kind/namespace/name carrying snap's revision and metadata.
	ArchiveSnapshot(ctx context.Context, kind, namespace, name, dir string, snap source.Snapshot, opts PackOptions) (Artifact, error)
	// Get opens a's file for reading; a missing file is ErrNotFound.
	Get(ctx context.Context, a Artifact) (io.ReadCloser, error)
	// Exists reports whether a's file is stored.
	Exists(a Artifact) bool
	// List returns the stored artifacts of a kind, optionally narrowed to a
	// namespace and a name.
	List(ctx context.Context, kind, namespace, name string) ([]Artifact, error)
	// Remove deletes a's file; a missing file is not an error.
	Remove(a Artifact) error
	// RemoveAll deletes every artifact of the object a belongs to.
	RemoveAll(a Artifact) error
	// GarbageCollect deletes superseded artifacts of current's object,
	// never current itself, and returns the paths it removed.
	GarbageCollect(ctx context.Context, current Artifact) ([]string, error)
	// Handler serves the stored artifacts read-only over HTTP.
	Handler() http.Handler
}

// Store implements Storage.
var _ Storage = (*Store)(nil)

// Put stores everything read from r as a's file, replacing it atomically
// (readers see the old or the new content, never a mix), and returns a
// with Digest, Size and LastUpdateTime set. It is Copy under the name the
// Storage interface uses.
func (s *Store) Put(ctx context.Context, a Artifact, r io.Reader) (Artifact, error) {
	return s.Copy(ctx, a, r)
}

// Get opens a's file for reading; a missing file is ErrNotFound. It is
// Open under the name and signature the Storage interface uses.
func (s *Store) Get(ctx context.Context, a Artifact) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.Open(a)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// List returns the artifacts stored for kind (required); a non-empty
// namespace narrows it to that namespace and a non-empty name (which needs
// a namespace) to that one object. Each Artifact has Path, URL, Size and
// LastUpdateTime (the file's modification time) set; Revision, Digest and
// Metadata are not recorded in the filesystem layout and stay empty. Files
// being written and other hidden files are not listed. Artifacts are
// ordered by object, newest first within an object. A kind, namespace or
// object with nothing stored gives an empty list.
func (s *Store) List(ctx context.Context, kind, namespace, name string) ([]Artifact, error) {
	if kind == "" {
		return nil, errors.New("artifact store: list: kind is required")
	}
	if name != "" && namespace == "" {
		return nil, fmt.Errorf("artifact store: list: name %q given without a namespace", truncate(name, 64))
	}
	parts := []string{strings.ToLower(kind)}
	for _, part := range []string{namespace, name} {
		if part != "" {
			parts = append(parts, part)
		}
	}
	for _, part := range parts {
		if strings.HasPrefix(part, ".") || strings.ContainsAny(part, "/\\\x00") {
			return nil, fmt.Errorf("artifact store: list: %q is not a valid kind, namespace or name", truncate(part, 64))
		}
	}
	prefix := strings.Join(parts, "/")
	// Objects' files sit three levels below the root.
	levels := 3 - len(parts)
	var out []Artifact
	var walk func(rel string, depth int) error
	walk = func(rel string, depth int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := os.ReadDir(filepath.Join(s.root, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("artifact store: list: %w", err)
		}
		if depth > 0 {
			for _, e := range entries {
				if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
					if err := walk(rel+"/"+e.Name(), depth-1); err != nil {
						return err
					}
				}
			}
			return nil
		}
		var files []Artifact
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			p := rel + "/" + e.Name()
			files = append(files, Artifact{
				Path:           p,
				URL:            s.URLFor(p),
				Size:           fi.Size(),
				LastUpdateTime: fi.ModTime().UTC().Truncate(time.Second),
			})
		}
		sort.Slice(files, func(i, j int) bool {
			if !files[i].LastUpdateTime.Equal(files[j].LastUpdateTime) {
				return files[i].LastUpdateTime.After(files[j].LastUpdateTime)
			}
			return files[i].Path < files[j].Path
		})
		out = append(out, files...)
		return nil
	}
	if err := walk(prefix, levels); err != nil {
		return nil, err
	}
	return out, nil
}
