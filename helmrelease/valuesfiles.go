package helmrelease

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// DefaultMaxValuesFileSize caps each values file ReadValuesFiles reads
// when its max is 0.
const DefaultMaxValuesFileSize = 5 << 20

// ReadValuesFiles reads values files from a directory, typically the
// unpacked artifact of a GitRepository, OCIRepository or Bucket, for
// ValuesOptions.Files, in the order given. Paths are slash-separated and
// relative to root; every read is confined to root (symbolic links
// included, through os.Root), and each file is capped at max bytes
// (DefaultMaxValuesFileSize when 0). With ignoreMissing, absent files are
// skipped. Errors name the path, never the content.
func ReadValuesFiles(root string, paths []string, max int64, ignoreMissing bool) ([]ValuesFile, error) {
	if max <= 0 {
		max = DefaultMaxValuesFileSize
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("values files: %w", err)
	}
	defer r.Close()
	var out []ValuesFile
	for _, p := range paths {
		clean := path.Clean(strings.TrimPrefix(p, "./"))
		if path.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("values file %q: outside the artifact", p)
		}
		f, err := r.Open(clean)
		if err != nil {
			if ignoreMissing && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("values file %q: %w", p, pathErr(err))
		}
		data, err := io.ReadAll(io.LimitReader(f, max+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("values file %q: %w", p, pathErr(err))
		}
		if int64(len(data)) > max {
			return nil, fmt.Errorf("values file %q: larger than %d bytes", p, max)
		}
		out = append(out, ValuesFile{Path: p, Data: data})
	}
	return out, nil
}

// pathErr drops the absolute path of an fs.PathError, keeping its cause.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
