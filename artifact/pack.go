package artifact

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/pgzip"
)

// Modes written into archives: owner-only permissions, executable kept as
// the only significant bit, the same normalisation Flux applies.
const (
	packFileMode int64 = 0o600
	packExecMode int64 = 0o700
	packDirMode  int64 = 0o750
)

// packBlockSize is the unit of parallel compression. Changing it changes
// every archive's bytes, and so every digest.
const packBlockSize = 1 << 20

// packBlocks is how many blocks may be in flight: one per CPU, at least
// two (so reading overlaps compressing) and at most eight (so memory stays
// flat, about three block sizes per block).
func packBlocks() int {
	return min(max(runtime.GOMAXPROCS(0), 2), 8)
}

// PackOptions tunes Pack. The zero value packs every regular file and
// directory with gzip's default compression.
type PackOptions struct {
	// Filter excludes entries; nil keeps everything. Use NewIgnoreFilter for
	// Flux's rules.
	Filter Filter
	// Level is the gzip compression level, 1 (fastest) to 9 (smallest);
	// 0 means gzip's default (6).
	Level int
	// Symlinks says what happens to symbolic links in the tree; the zero
	// value, SkipSymlinks, leaves them out.
	Symlinks SymlinkPolicy
}

// SymlinkPolicy says how Pack treats symbolic links.
type SymlinkPolicy int

const (
	// SkipSymlinks leaves every symbolic link out of the archive, as Flux
	// does. It is the zero value.
	SkipSymlinks SymlinkPolicy = iota
	// ResolveSymlinks packs what a link points to, under the link's name, as
	// a regular file or a directory, when the fully resolved target is
	// inside the packed root. A link whose target leaves the root, does not
	// exist, or leads back into a directory it is part of (a loop) fails the
	// pack with an error naming the link. Filters see the link's path, not
	// the target's. At most MaxResolvedSymlinks links are followed per pack,
	// so a small tree of links cannot expand into an enormous archive.
	ResolveSymlinks
)

// MaxResolvedSymlinks caps how many symbolic links one Pack with
// ResolveSymlinks follows.
const MaxResolvedSymlinks = 10_000

// ErrSymlink is returned (wrapped in a *SymlinkError) when Pack refuses a
// symbolic link.
var ErrSymlink = errors.New("refused symbolic link")

// SymlinkError names a symbolic link Pack refused and why.
type SymlinkError struct {
	// Link is the slash-separated path of the link relative to the root.
	Link string
	// Target is what the link points to, as stored in the link.
	Target string
	// Reason says why it was refused.
	Reason string
}

// Error implements error.
func (e *SymlinkError) Error() string {
	return fmt.Sprintf("pack: symbolic link %s -> %s %s", e.Link, truncate(e.Target, 256), e.Reason)
}

// Is makes errors.Is(err, ErrSymlink) true.
func (e *SymlinkError) Is(target error) bool { return target == ErrSymlink }

// PackResult describes a written archive.
type PackResult struct {
	// Digest is the sha256 digest of the compressed archive, `sha256:<hex>`.
	Digest string
	// Size is the size of the compressed archive in bytes.
	Size int64
	// Files is the number of regular files in the archive.
	Files int
}

// Pack writes dir as a gzip-compressed tar stream to w.
//
// The output is reproducible: entries appear in lexical order, directories
// before their contents; owner, group and times are cleared; files get mode
// 0600, or 0700 when any executable bit is set, and directories 0750. Only
// regular files and directories are packed; special files are left out,
// and so are symbolic links unless opts.Symlinks is ResolveSymlinks. The
// root directory itself has no entry.
//
// Compression runs in parallel on fixed 1 MiB blocks of the tar stream
// (github.com/klauspost/pgzip), so packing scales with the CPUs while the
// output stays one standard gzip member and memory stays bounded (a few
// MiB per CPU, at most eight blocks in flight). A tar stream shorter than
// one block is compressed as the single block it is, with buffers sized
// to it, so packing a small tree costs little memory. The bytes depend on the
// content and the level only, never on the number of CPUs; a different
// release of the compressor may still compress differently, so compare
// digests made by the same build.
func Pack(ctx context.Context, w io.Writer, dir string, opts PackOptions) (PackResult, error) {
	return pack(ctx, w, dir, opts, nil)
}

// pack is Pack, taking its compressors from writers when not nil.
func pack(ctx context.Context, w io.Writer, dir string, opts PackOptions, writers *gzipWriters) (PackResult, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return PackResult{}, fmt.Errorf("pack: %w", err)
	}
	if !fi.IsDir() {
		return PackResult{}, fmt.Errorf("pack: %s is not a directory", dir)
	}
	if opts.Symlinks != SkipSymlinks && opts.Symlinks != ResolveSymlinks {
		return PackResult{}, fmt.Errorf("pack: unknown symlink policy %d: %w", opts.Symlinks, ErrInvalidOption)
	}
	realRoot, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return PackResult{}, fmt.Errorf("pack: %w", err)
	}
	if realRoot, err = filepath.Abs(realRoot); err != nil {
		return PackResult{}, fmt.Errorf("pack: %w", err)
	}
	level := opts.Level
	switch {
	case level == 0:
		level = gzip.DefaultCompression
	case level < gzip.BestSpeed || level > gzip.BestCompression:
		return PackResult{}, fmt.Errorf("pack: gzip level %d out of range 1-9: %w", opts.Level, ErrInvalidOption)
	}
	d, _ := NewDigester("sha256")
	cw := &countWriter{w: io.MultiWriter(w, d)}
	// The tar stream is cut into fixed-size blocks compressed in parallel,
	// each primed with the last 32 KiB of the block before it. Where the
	// blocks start depends only on the byte count, so the output stays a
	// function of the content, and it is one standard gzip member.
	gw := &gzipSpill{w: cw, level: level, writers: writers}
	p := &packer{
		ctx: ctx, tw: tar.NewWriter(gw), filter: opts.Filter, buf: make([]byte, 64<<10),
		resolve: opts.Symlinks == ResolveSymlinks, realRoot: realRoot,
	}
	err = p.walk("", realRoot)
	if err == nil {
		err = p.tw.Close()
	}
	// Close also waits for the compressing goroutines after a failure.
	if cerr := gw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("pack: %w", cerr)
	}
	if err != nil {
		return PackResult{}, err
	}
	return PackResult{Digest: d.Digest(), Size: cw.n, Files: p.files}, nil
}

type packer struct {
	ctx    context.Context
	tw     *tar.Writer
	filter Filter
	files  int
	buf    []byte

	resolve  bool
	realRoot string   // the root with every link resolved
	stack    []string // resolved paths of the directories being walked
	links    int      // links followed so far
}

// walk writes the contents of the directory whose archive name is rel
// (slash-separated, "" for the root) and which is found on disk at dir.
// Apart from directories reached through a resolved link, dir is the root
// joined with rel.
func (p *packer) walk(rel, dir string) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	p.stack = append(p.stack, dir)
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()
	for _, e := range entries { // os.ReadDir sorts by name
		name := path.Join(rel, e.Name())
		full := filepath.Join(dir, e.Name())
		t := e.Type()
		if t&fs.ModeSymlink != 0 {
			if !p.resolve {
				continue
			}
			target, fi, err := p.resolveLink(name, full)
			if err != nil {
				return err
			}
			full, t = target, fi.Mode().Type()
		}
		switch {
		case t.IsDir():
			if p.filter != nil && p.filter(name, true) {
				continue
			}
			if err := p.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: packDirMode}); err != nil {
				return fmt.Errorf("pack: %s: %w", name, err)
			}
			if err := p.walk(name, full); err != nil {
				return err
			}
		case t.IsRegular():
			if p.filter != nil && p.filter(name, false) {
				continue
			}
			if err := p.file(name, full); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolveLink follows the link found at full (archive name name) and returns
// the resolved path and what it points to, or a *SymlinkError.
func (p *packer) resolveLink(name, full string) (string, fs.FileInfo, error) {
	dest, _ := os.Readlink(full)
	refuse := func(reason string) (string, fs.FileInfo, error) {
		return "", nil, &SymlinkError{Link: name, Target: dest, Reason: reason}
	}
	p.links++
	if p.links > MaxResolvedSymlinks {
		return refuse(fmt.Sprintf("is one link too many (at most %d are followed)", MaxResolvedSymlinks))
	}
	target, err := filepath.EvalSymlinks(full)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return refuse("points to nothing")
		}
		return refuse(fmt.Sprintf("cannot be resolved: %v", unwrapPathError(err)))
	}
	target, err = filepath.Abs(target)
	if err != nil {
		return refuse(fmt.Sprintf("cannot be resolved: %v", err))
	}
	if !within(p.realRoot, target) {
		return refuse("leaves the packed directory")
	}
	fi, err := os.Lstat(target)
	if err != nil {
		return refuse(fmt.Sprintf("cannot be resolved: %v", unwrapPathError(err)))
	}
	if fi.IsDir() {
		for _, d := range p.stack {
			if within(target, d) {
				return refuse("makes a loop")
			}
		}
	}
	return target, fi, nil
}

// within reports whether p is dir or below it; both are clean absolute paths.
func within(dir, p string) bool {
	if p == dir {
		return true
	}
	if !strings.HasSuffix(dir, string(filepath.Separator)) {
		dir += string(filepath.Separator)
	}
	return strings.HasPrefix(p, dir)
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (p *packer) file(name, full string) error {
	f, err := os.Open(full)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil // replaced by something else since the directory was read
	}
	mode := packFileMode
	if fi.Mode().Perm()&0o111 != 0 {
		mode = packExecMode
	}
	size := fi.Size()
	if err := p.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size}); err != nil {
		return fmt.Errorf("pack: %s: %w", name, err)
	}
	n, err := io.CopyBuffer(p.tw, io.LimitReader(onlyReader{f}, size), p.buf)
	if err != nil {
		return fmt.Errorf("pack: %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("pack: %s: %w (changed size while being packed)", name, io.ErrUnexpectedEOF)
	}
	p.files++
	return nil
}

// onlyReader hides other methods (WriterTo) so CopyBuffer uses its buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(b []byte) (int, error) { return o.r.Read(b) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// smallBlockMin is the smallest block size gzipSpill gives a short stream
// (pgzip wants more than its 16 KiB dictionary tail).
const smallBlockMin = 64 << 10

// gzipSpill compresses a tar stream into one gzip member in pgzip's fixed
// packBlockSize blocks. It holds the stream in memory until it reaches one
// block: a longer stream then goes to a writer with packBlockSize blocks,
// while a shorter one is compressed at Close by a writer whose block is
// just larger than the stream. Either way the stream is one block or is
// cut at the same multiples of packBlockSize, so the bytes are those of a
// packBlockSize writer; only the buffers of a short stream are smaller
// (pgzip allocates two blocks and more per writer).
type gzipSpill struct {
	w       io.Writer
	level   int
	writers *gzipWriters
	buf     []byte
	gw      *pgzip.Writer
}

// gzipWriters keeps compressors between Packs: a pgzip.Writer allocates
// its compressors and block buffers anew (about a megabyte), which for
// the small trees most sources hold is most of what packing costs. A
// writer taken from here and reset writes the same bytes as a new one.
// The zero value is ready to use.
type gzipWriters struct {
	mu    sync.Mutex
	pools map[int]*sync.Pool
}

func (g *gzipWriters) pool(level int) *sync.Pool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pools == nil {
		g.pools = map[int]*sync.Pool{}
	}
	p, ok := g.pools[level]
	if !ok {
		p = &sync.Pool{}
		g.pools[level] = p
	}
	return p
}

// get returns a writer to w at level with the given blocks.
func (g *gzipWriters) get(w io.Writer, level, blockSize, blocks int) (*pgzip.Writer, error) {
	if g == nil {
		return newPackWriter(w, level, blockSize, blocks)
	}
	gw, ok := g.pool(level).Get().(*pgzip.Writer)
	if !ok {
		return newPackWriter(w, level, blockSize, blocks)
	}
	gw.Reset(w)
	if err := gw.SetConcurrency(blockSize, blocks); err != nil {
		return nil, err
	}
	gw.ModTime = time.Unix(0, 0)
	return gw, nil
}

// put keeps a writer that was closed without error.
func (g *gzipWriters) put(level int, gw *pgzip.Writer) {
	if g != nil {
		g.pool(level).Put(gw)
	}
}

func (s *gzipSpill) Write(p []byte) (int, error) {
	if s.gw != nil {
		return s.gw.Write(p)
	}
	if len(s.buf)+len(p) < packBlockSize {
		s.buf = append(s.buf, p...)
		return len(p), nil
	}
	gw, err := s.writers.get(s.w, s.level, packBlockSize, packBlocks())
	if err != nil {
		return 0, err
	}
	s.gw = gw
	if _, err := gw.Write(s.buf); err != nil {
		return 0, err
	}
	s.buf = nil
	return gw.Write(p)
}

// Close compresses what is held and ends the gzip member.
func (s *gzipSpill) Close() error {
	if s.gw == nil {
		gw, err := s.writers.get(s.w, s.level, max(len(s.buf)+1, smallBlockMin), 1)
		if err != nil {
			return err
		}
		s.gw = gw
		if _, err := gw.Write(s.buf); err != nil {
			_ = gw.Close()
			return err
		}
		s.buf = nil
	}
	if err := s.gw.Close(); err != nil {
		return err
	}
	s.writers.put(s.level, s.gw)
	return nil
}

func newPackWriter(w io.Writer, level, blockSize, blocks int) (*pgzip.Writer, error) {
	gw, err := pgzip.NewWriterLevel(w, level)
	if err != nil {
		return nil, err
	}
	if err := gw.SetConcurrency(blockSize, blocks); err != nil {
		return nil, err
	}
	// Written as is: the zero time.Time would become a date in 2042.
	gw.ModTime = time.Unix(0, 0)
	return gw, nil
}
