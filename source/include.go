package source

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Include places a subtree of another snapshot into this one, like the
// include field of Flux's GitRepository.
type Include struct {
	// Dir is the root directory of the other snapshot on disk.
	Dir string
	// FromPath is the slash-separated directory inside Dir to copy; empty
	// means the whole snapshot.
	FromPath string
	// ToPath is the slash-separated directory inside the destination root
	// to copy into; it must not be empty or escape the root. Files already
	// there are overwritten; other files stay.
	ToPath string
}

// ApplyIncludes copies every include into root, in order. Both paths are
// confined: FromPath to Dir and ToPath to root, and no symbolic link is
// followed on either side (a symbolic link inside the copied subtree is an
// error rather than silently dropped). Regular files keep their executable
// bit. A FromPath or ToPath that is not a clean relative path, or a ToPath
// naming the root, is reported with an error that wraps ErrInvalid.
func ApplyIncludes(ctx context.Context, root string, includes []Include) error {
	for _, inc := range includes {
		if err := applyInclude(ctx, root, inc); err != nil {
			return fmt.Errorf("include %q into %q: %w", inc.FromPath, inc.ToPath, err)
		}
	}
	return nil
}

// CleanRelPath validates a slash-separated relative path and returns it
// cleaned ("." for the root). It rejects absolute paths and any path that
// climbs above its root with an error that wraps ErrInvalid.
func CleanRelPath(p string) (string, error) {
	if strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return "", invalidf("path %q contains a backslash or NUL", p)
	}
	if path.IsAbs(p) {
		return "", invalidf("path %q is absolute", p)
	}
	c := path.Clean("/" + p)[1:]
	if c == "" {
		c = "."
	}
	if orig := path.Clean(p); orig != c && orig != "." {
		return "", invalidf("path %q leaves its root", p)
	}
	return c, nil
}

func applyInclude(ctx context.Context, root string, inc Include) error {
	from, err := CleanRelPath(inc.FromPath)
	if err != nil {
		return err
	}
	to, err := CleanRelPath(inc.ToPath)
	if err != nil {
		return err
	}
	if to == "." {
		return invalidf("toPath must name a directory below the root")
	}
	src := filepath.Join(inc.Dir, filepath.FromSlash(from))
	if err := noLinks(inc.Dir, from); err != nil {
		return err
	}
	if fi, err := os.Stat(src); err != nil {
		return fmt.Errorf("fromPath %q not found in the included snapshot", inc.FromPath)
	} else if !fi.IsDir() {
		return fmt.Errorf("fromPath %q is not a directory", inc.FromPath)
	}
	if err := noLinks(root, to); err != nil {
		return err
	}
	dst := filepath.Join(root, filepath.FromSlash(to))
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if fi, err := os.Lstat(target); err == nil && !fi.IsDir() {
				return fmt.Errorf("%q exists in the destination and is not a directory", filepath.ToSlash(filepath.Join(to, rel)))
			}
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			if fi, err := os.Lstat(target); err == nil && !fi.Mode().IsRegular() {
				return fmt.Errorf("%q exists in the destination and is not a regular file", filepath.ToSlash(filepath.Join(to, rel)))
			}
			return copyFile(p, target)
		default:
			return fmt.Errorf("%q in the included snapshot is not a regular file or directory", filepath.ToSlash(filepath.Join(from, rel)))
		}
	})
}

// noLinks fails when any existing component of rel below base is a
// symbolic link.
func noLinks(base, rel string) error {
	if rel == "." {
		return nil
	}
	cur := base
	for _, part := range strings.Split(rel, "/") {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return nil // the rest does not exist yet
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%q is a symbolic link", rel)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
