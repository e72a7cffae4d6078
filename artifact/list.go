package artifact

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"
)

// List returns the artifacts stored for key.Kind (required); a non-empty
// key.Namespace narrows it to that namespace and a non-empty key.Name
// (which needs a namespace) to that one object. Each Artifact has Path,
// URL, Size and LastUpdateTime (the file's modification time) set;
// Revision, Digest and Metadata are not recorded in the filesystem layout
// and stay empty. Files being written, other hidden files and symbolic
// links are not listed, and symbolic links to directories are not
// descended into. Artifacts are ordered by object, newest first within an
// object. A kind, namespace or object with nothing stored gives an empty
// list.
func (s *Store) List(ctx context.Context, key ObjectKey) ([]Artifact, error) {
	kind, namespace, name := key.Kind, key.Namespace, key.Name
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
