package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
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
// are expected to be quick local operations. Implementations must refuse
// paths that are not of that form and deletions that would reach beyond
// one object: RemoveAll takes the object's kind, namespace and name, never
// a path, so a status an attacker can write cannot steer it.
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
	// RemoveAll deletes every artifact of the object kind/namespace/name,
	// refusing values that are not single valid path segments.
	RemoveAll(kind, namespace, name string) error
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
// being written, other hidden files and symbolic links are not listed, and
// symbolic links to directories are not descended into. Artifacts are
// ordered by object, newest first within an object. A kind, namespace or
// object with nothing stored gives an empty list.
func (s *Store) List(ctx context.Context, kind, namespace, name string) ([]Artifact, error) {
	if name != "" && namespace == "" {
		return nil, fmt.Errorf("artifact store: list: name %q given without a namespace: %w", truncate(name, 64), ErrInvalidPath)
	}
	if err := validateKind(kind); err != nil {
		return nil, fmt.Errorf("artifact store: list: %w", err)
	}
	parts := []string{strings.ToLower(kind)}
	if namespace != "" {
		if err := validateNamespace(namespace); err != nil {
			return nil, fmt.Errorf("artifact store: list: %w", err)
		}
		parts = append(parts, namespace)
	}
	if name != "" {
		if err := validateName(name); err != nil {
			return nil, fmt.Errorf("artifact store: list: %w", err)
		}
		parts = append(parts, name)
	}
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return nil, fmt.Errorf("artifact store: list: %w", err)
	}
	defer root.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	top, err := openDirs(root, parts, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("artifact store: list: %w", err)
	}
	defer top.Close()
	// Objects' files sit three levels below the root.
	var out []Artifact
	var walk func(dir *os.Root, rel string, depth int) error
	walk = func(dir *os.Root, rel string, depth int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := readDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("artifact store: list: %w", err)
		}
		if depth > 0 {
			for _, e := range entries {
				if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
					continue
				}
				sub, err := openDirs(dir, []string{e.Name()}, false)
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalidPath) {
					continue // removed or replaced meanwhile
				}
				if err != nil {
					return fmt.Errorf("artifact store: list: %w", err)
				}
				err = walk(sub, rel+"/"+e.Name(), depth-1)
				sub.Close()
				if err != nil {
					return err
				}
			}
			return nil
		}
		var files []Artifact
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			fi, err := dir.Lstat(e.Name())
			if err != nil || !fi.Mode().IsRegular() {
				continue // removed or replaced meanwhile
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
	if err := walk(top, strings.Join(parts, "/"), 3-len(parts)); err != nil {
		return nil, err
	}
	return out, nil
}
