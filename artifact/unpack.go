package artifact

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Default limits applied by Unpack when UnpackOptions leaves them zero.
const (
	// DefaultMaxUnpackSize caps the total size of the files in an archive.
	DefaultMaxUnpackSize int64 = 100 << 20
	// DefaultMaxEntries caps the number of entries in an archive.
	DefaultMaxEntries = 100_000
)

// Unlimited, as UnpackOptions.MaxSize, UnpackOptions.MaxEntries or
// Fetcher.MaxDownloadSize, turns that cap off. It has to be asked for:
// zero never means "no limit", it means the default cap. Any negative
// value counts as Unlimited.
const Unlimited = -1

// maxEntryName caps the length of an entry name (Linux's PATH_MAX).
const maxEntryName = 4096

// maxTrailer caps the padding accepted after a tar stream's end marker
// (GNU tar pads to 10 KiB records).
const maxTrailer = 1 << 20

// ErrTooLarge is returned when a download or an archive exceeds a size or
// entry-count limit.
var ErrTooLarge = errors.New("exceeds limit")

// ErrUnsafeEntry is returned for archive entries that could write outside
// the target directory or are of a refused type (links, devices, FIFOs).
var ErrUnsafeEntry = errors.New("unsafe archive entry")

// UnpackOptions tunes Unpack. The zero value accepts gzip-compressed tar
// streams of at most DefaultMaxUnpackSize (100 MiB) of file content and
// DefaultMaxEntries entries, and rejects symbolic and hard links.
//
// Both caps follow one rule: 0 means the default cap, a positive value is
// the cap, and only Unlimited (any negative value) removes it.
type UnpackOptions struct {
	// MaxSize caps the sum of the file sizes, as declared by the entry
	// headers, in bytes; 0 means DefaultMaxUnpackSize, Unlimited means no
	// limit. It also bounds the decompressed stream as a whole, headers
	// included (see Unpack).
	MaxSize int64
	// MaxEntries caps the number of archive entries of any type; 0 means
	// DefaultMaxEntries, Unlimited means no limit.
	MaxEntries int
	// SkipLinks drops symbolic and hard links instead of failing on them.
	SkipLinks bool
	// Uncompressed reads a plain tar stream instead of a gzip-compressed one.
	Uncompressed bool
}

// UnpackResult describes what Unpack wrote.
type UnpackResult struct {
	// Files is the number of regular files written.
	Files int
	// Bytes is the total size of the files written.
	Bytes int64
}

// Unpack extracts the tar.gz stream r into dir, creating dir if needed.
//
// Unpack reads the archive twice. The first pass checks every header
// against the caps and the rules below and writes nothing: an archive that
// is refused (too many entries, too large, a refused entry type or name, a
// truncated or corrupt stream) costs the bytes read, never files written,
// and leaves dir as it was. When r is an io.Seeker (a downloaded file, as
// Fetcher hands over), the second pass seeks back to where r was;
// otherwise the first pass spools the compressed input to a temporary file
// next to dir, removed afterwards, itself capped at the decompressed-stream
// cap below (plus 1/64th and 1 MiB for compression overhead), and the
// second pass reads that file. Only the second pass writes.
//
// When dir does not exist yet or is an empty directory, the archive is
// extracted into a temporary directory next to it, which is renamed to dir
// only once the whole archive has been read: a failed unpack (a file
// where a directory was to go, a full disk, a canceled ctx) leaves
// nothing behind. Into a directory that already has content, entries are
// extracted in place, and such a failure of the second pass can leave the
// entries written before it.
//
// Every path is resolved inside dir through an os.Root, so neither `..`,
// absolute names nor symbolic links already present in dir can make it
// write elsewhere. Names containing a backslash or NUL are refused. Only
// regular files and directories are created: links fail the unpack unless
// SkipLinks is set, device files and FIFOs always fail it. File modes keep
// their permission bits (without setuid, setgid or sticky), directories are
// always owner-writable, and times are not restored.
//
// Every decompressed byte counts, not only file content: extended headers
// (PAX records, GNU long names and links), which the tar format lets an
// archive chain without end, padding and what follows the end marker. The
// decompressed stream is capped at MaxSize plus 2 KiB for each allowed
// entry plus 2 MiB (with MaxEntries Unlimited: twice MaxSize plus 2 MiB;
// with MaxSize Unlimited it is not capped), and exceeding it is ErrTooLarge.
// ctx is checked on every read of the stream, so a cancellation or deadline
// interrupts even a single oversized header.
func Unpack(ctx context.Context, r io.Reader, dir string, opts UnpackOptions) (UnpackResult, error) {
	dir = filepath.Clean(dir)
	lim := newUnpackLimits(opts)
	src, done, err := checkArchive(ctx, r, filepath.Dir(dir), opts, lim)
	if err != nil {
		return UnpackResult{}, err
	}
	defer done()
	if !isEmptyOrMissingDir(dir) {
		return unpackInto(ctx, src, dir, opts, lim)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return UnpackResult{}, fmt.Errorf("unpack: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, tempPrefix+"unpack-"+filepath.Base(dir)+"-*")
	if err != nil {
		return UnpackResult{}, fmt.Errorf("unpack: %w", err)
	}
	res, err := unpackInto(ctx, src, tmp, opts, lim)
	if err == nil {
		err = os.Chmod(tmp, 0o750)
	}
	if err == nil {
		// An empty directory in the way goes first (Remove refuses to
		// delete one that gained content meanwhile).
		if rerr := os.Remove(dir); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("unpack: %w", rerr)
		} else if rerr := os.Rename(tmp, dir); rerr != nil {
			err = fmt.Errorf("unpack: %w", rerr)
		}
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return res, err
	}
	return res, nil
}

// unpackLimits are UnpackOptions' caps with the defaults filled in
// (negative: no cap).
type unpackLimits struct {
	maxSize    int64
	maxEntries int
}

func newUnpackLimits(opts UnpackOptions) unpackLimits {
	lim := unpackLimits{maxSize: opts.MaxSize, maxEntries: opts.MaxEntries}
	if lim.maxSize == 0 {
		lim.maxSize = DefaultMaxUnpackSize
	}
	if lim.maxEntries == 0 {
		lim.maxEntries = DefaultMaxEntries
	}
	return lim
}

// checkArchive runs the first, writing-free pass over the archive r and
// returns a reader of the same archive from its start for the second pass,
// and a function releasing what it took (a spool file). A seekable r is
// read in place and rewound; any other r is spooled, while it is checked,
// to a temporary file in spoolDir.
func checkArchive(ctx context.Context, r io.Reader, spoolDir string, opts UnpackOptions, lim unpackLimits) (io.Reader, func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		if start, err := rs.Seek(0, io.SeekCurrent); err == nil {
			if err := readArchive(ctx, rs, opts, lim, nil); err != nil {
				return nil, nil, err
			}
			if _, err := rs.Seek(start, io.SeekStart); err != nil {
				return nil, nil, fmt.Errorf("unpack: rewinding the archive: %w", err)
			}
			return rs, func() {}, nil
		}
	}
	if err := os.MkdirAll(spoolDir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("unpack: %w", err)
	}
	f, err := os.CreateTemp(spoolDir, tempPrefix+"unpack-spool-*")
	if err != nil {
		return nil, nil, fmt.Errorf("unpack: %w", err)
	}
	done := func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	sp := &spoolReader{r: r, w: f, max: spoolCap(streamCap(lim.maxSize, lim.maxEntries))}
	err = readArchive(ctx, sp, opts, lim, nil)
	if sp.err != nil {
		// The spool's own refusal is the cause of whatever the readers
		// made of it.
		err = sp.err
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		done()
		return nil, nil, err
	}
	return f, done, nil
}

// spoolCap returns the cap on a spooled compressed archive whose
// decompressed stream is capped at streamMax (negative: none): compression
// adds a few bytes per block at worst, so an archive beyond this is
// padding, not content.
func spoolCap(streamMax int64) int64 {
	if streamMax < 0 {
		return -1
	}
	return streamMax + streamMax/64 + 1<<20
}

// spoolReader copies what it reads from r to w, up to max bytes (when not
// negative). Its first error sticks.
type spoolReader struct {
	r   io.Reader
	w   io.Writer
	n   int64
	max int64
	err error
}

func (s *spoolReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.max >= 0 && s.n > s.max {
		s.err = fmt.Errorf("unpack: compressed archive is larger than %d bytes: %w", s.max, ErrTooLarge)
		return 0, s.err
	}
	if n > 0 {
		if _, werr := s.w.Write(p[:n]); werr != nil {
			s.err = fmt.Errorf("unpack: spooling the archive: %w", werr)
			return 0, s.err
		}
	}
	return n, err
}

// isEmptyOrMissingDir reports whether dir does not exist or is an empty
// directory.
func isEmptyOrMissingDir(dir string) bool {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		_, lerr := os.Lstat(dir)
		return errors.Is(lerr, fs.ErrNotExist) // not a dangling link
	}
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.IsDir() {
		return false
	}
	names, err := f.Readdirnames(1)
	return len(names) == 0 && errors.Is(err, io.EOF)
}

// unpackInto is the second pass: it writes the archive's directories and
// files into dir, checking everything the first pass checked once more.
func unpackInto(ctx context.Context, r io.Reader, dir string, opts UnpackOptions, lim unpackLimits) (res UnpackResult, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return res, fmt.Errorf("unpack: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return res, fmt.Errorf("unpack: %w", err)
	}
	defer root.Close()
	buf := make([]byte, 64<<10)
	dirs := &dirCache{root: root, made: map[string]bool{}}
	defer dirs.close()
	err = readArchive(ctx, r, opts, lim, func(h *tar.Header, name string, content io.Reader) error {
		if h.Typeflag == tar.TypeDir {
			perm := fs.FileMode(h.Mode).Perm() | 0o700
			if err := root.MkdirAll(name, perm); err != nil {
				return fmt.Errorf("unpack: %w", err)
			}
			dirs.made[name] = true
			return nil
		}
		parent, err := dirs.get(path.Dir(name))
		if err != nil {
			return err
		}
		n, err := writeEntry(parent, path.Base(name), fs.FileMode(h.Mode).Perm(), content, buf)
		if err != nil {
			return err
		}
		if n != h.Size {
			return fmt.Errorf("unpack: entry %q: wrote %d of %d bytes: %w", name, n, h.Size, io.ErrUnexpectedEOF)
		}
		res.Files++
		res.Bytes += n
		return nil
	})
	return res, err
}

// readArchive reads the tar (or, unless opts.Uncompressed, tar.gz) stream
// r to its end, enforcing the caps, entry names and types, and hands each
// directory (but the root) and regular file to write, with the cleaned
// name and, for a file, its content. A nil write only checks.
func readArchive(ctx context.Context, r io.Reader, opts UnpackOptions, lim unpackLimits, write func(h *tar.Header, name string, content io.Reader) error) (err error) {
	raw := io.Reader(ctxReader{ctx: ctx, r: r})
	if !opts.Uncompressed {
		gz, err := gzip.NewReader(bufio.NewReaderSize(raw, 64<<10))
		if err != nil {
			return fmt.Errorf("unpack: not a gzip stream: %w", err)
		}
		defer gz.Close()
		raw = gz
	}
	stream := &streamReader{ctx: ctx, r: raw, max: streamCap(lim.maxSize, lim.maxEntries)}
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("unpack: malformed archive: %v", rec)
		}
		if err != nil && stream.err != nil {
			// The stream's own refusal (a cap, ctx) is the cause of
			// whatever the tar reader made of it.
			err = stream.err
		}
	}()
	tr := tar.NewReader(stream)
	var total int64
	entries := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if !opts.Uncompressed {
				// Read the gzip stream to its end so its checksum and length
				// trailer are verified: a truncated or corrupted download must
				// not pass for a complete archive. What follows the tar end
				// marker is padding; more than maxTrailer of it is refused.
				n, err := io.Copy(io.Discard, io.LimitReader(stream, maxTrailer+1))
				if err != nil {
					return fmt.Errorf("unpack: reading archive: %w", err)
				}
				if n > maxTrailer {
					return fmt.Errorf("unpack: more than %d bytes follow the end of the archive: %w", maxTrailer, ErrUnsafeEntry)
				}
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("unpack: reading archive: %w", err)
		}
		entries++
		if lim.maxEntries > 0 && entries > lim.maxEntries {
			return fmt.Errorf("unpack: archive has more than %d entries: %w", lim.maxEntries, ErrTooLarge)
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if h.Size < 0 {
			return fmt.Errorf("unpack: entry %q has negative size: %w", truncate(h.Name, 256), ErrUnsafeEntry)
		}
		total += h.Size
		if lim.maxSize > 0 && total > lim.maxSize {
			return fmt.Errorf("unpack: archive content is larger than %d bytes: %w", lim.maxSize, ErrTooLarge)
		}
		name, err := cleanEntryName(h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if name == "." {
				continue
			}
		case tar.TypeReg:
			if name == "." {
				return fmt.Errorf("unpack: file entry %q names the root: %w", truncate(h.Name, 256), ErrUnsafeEntry)
			}
		case tar.TypeSymlink, tar.TypeLink:
			if opts.SkipLinks {
				continue
			}
			return fmt.Errorf("unpack: entry %q is a link: %w", name, ErrUnsafeEntry)
		default:
			return fmt.Errorf("unpack: entry %q has unsupported type %q: %w", name, string(rune(h.Typeflag)), ErrUnsafeEntry)
		}
		if write != nil {
			if err := write(h, name, tr); err != nil {
				return err
			}
		}
	}
}

// Allowances of the decompressed-stream cap on top of MaxSize: one header,
// one extended header and padding per ordinary entry, plus room for the
// trailer and a few larger extended headers.
const (
	streamPerEntry = 2 << 10
	streamSlack    = 2 << 20
)

// streamCap returns the cap on the decompressed stream (negative: none).
func streamCap(maxSize int64, maxEntries int) int64 {
	if maxSize < 0 {
		return -1
	}
	if maxEntries < 0 {
		return 2*maxSize + streamSlack
	}
	return maxSize + int64(maxEntries)*streamPerEntry + streamSlack
}

// streamReader counts every byte of the decompressed tar stream, headers
// and padding included, against max (when not negative) and checks ctx on
// every read. Its first error sticks.
type streamReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	max int64
	err error
}

func (s *streamReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := s.ctx.Err(); err != nil {
		s.err = fmt.Errorf("unpack: reading archive: %w", err)
		return 0, s.err
	}
	if s.max >= 0 {
		// Read at most one byte past the cap, to see it exceeded.
		if left := s.max - s.n + 1; int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.max >= 0 && s.n > s.max {
		s.err = fmt.Errorf("unpack: decompressed archive is larger than %d bytes, headers included: %w", s.max, ErrTooLarge)
		return n - int(s.n-s.max), s.err
	}
	return n, err
}

// dirCache keeps the directory the last file went to open as a sub-root,
// so consecutive files of one directory are created with a single openat
// each, still confined to the unpack root.
type dirCache struct {
	root    *os.Root
	made    map[string]bool
	lastDir string
	last    *os.Root
}

func (c *dirCache) get(dir string) (*os.Root, error) {
	if dir == "." {
		return c.root, nil
	}
	if c.last != nil && c.lastDir == dir {
		return c.last, nil
	}
	if !c.made[dir] {
		if err := c.root.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("unpack: %w", err)
		}
		c.made[dir] = true
	}
	sub, err := c.root.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("unpack: %w", err)
	}
	c.close()
	c.lastDir, c.last = dir, sub
	return sub, nil
}

func (c *dirCache) close() {
	if c.last != nil {
		c.last.Close()
		c.last = nil
	}
}

// writeEntry creates the file name (one path component) in dir. An existing
// non-directory is replaced rather than written through, so a symbolic link
// left in the target is never followed.
func writeEntry(dir *os.Root, name string, perm fs.FileMode, r io.Reader, buf []byte) (int64, error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	f, err := dir.OpenFile(name, flags, perm)
	if errors.Is(err, fs.ErrExist) {
		if fi, lerr := dir.Lstat(name); lerr == nil && !fi.IsDir() {
			if rerr := dir.Remove(name); rerr != nil {
				return 0, fmt.Errorf("unpack: %w", rerr)
			}
		}
		f, err = dir.OpenFile(name, flags, perm)
	}
	if err != nil {
		return 0, fmt.Errorf("unpack: %w", err)
	}
	n, err := io.CopyBuffer(onlyWriter{f}, r, buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("unpack: entry %q: %w", name, err)
	}
	return n, nil
}

type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(b []byte) (int, error) { return o.w.Write(b) }

// cleanEntryName validates an archive entry name and returns it cleaned,
// relative and slash-separated ("." for the root).
func cleanEntryName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("unpack: entry with empty name: %w", ErrUnsafeEntry)
	}
	if len(name) > maxEntryName {
		return "", fmt.Errorf("unpack: entry %q: name is longer than %d bytes: %w", truncate(name, 256), maxEntryName, ErrUnsafeEntry)
	}
	if strings.ContainsAny(name, "\\\x00") {
		return "", fmt.Errorf("unpack: entry %q contains a backslash or NUL: %w", truncate(name, 256), ErrUnsafeEntry)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("unpack: entry %q is an absolute path: %w", truncate(name, 256), ErrUnsafeEntry)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("unpack: entry %q leaves the target directory: %w", truncate(name, 256), ErrUnsafeEntry)
		}
	}
	return path.Clean(name), nil
}
