package helm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitopskit/gitopskit/source"
)

// DefaultMaxIndexSize caps an index file when Repository.MaxIndexSize is
// 0: 50 MiB, as Flux.
const DefaultMaxIndexSize = 50 << 20

// IndexFileName is the name of the index file in a repository and in the
// directory Repository.Fetch writes.
const IndexFileName = "index.yaml"

// Repository is an HTTP(S) chart repository: configure it, then call
// Fetch (the index as a source) or Index (the parsed index, to look
// charts up). It implements source.Fetcher. It is safe for concurrent use
// as long as it is not modified.
type Repository struct {
	// URL is the repository's address, "http(s)://host/path"; its index
	// is URL + "/index.yaml".
	URL string
	// Client says how to reach the repository.
	Client Client
	// MaxIndexSize caps the index file in bytes; 0 means
	// DefaultMaxIndexSize, a negative value no cap.
	MaxIndexSize int64
	// Cache, when set, keeps parsed indexes in memory between calls to
	// Index (see IndexCache); nil downloads the index every time.
	Cache *IndexCache
}

var _ source.Fetcher = (*Repository)(nil)

func (r *Repository) maxIndex() int64 {
	if r.MaxIndexSize == 0 {
		return DefaultMaxIndexSize
	}
	return r.MaxIndexSize
}

// subject is the repository URL without credentials, for errors.
func (r *Repository) subject() string { return source.RedactURL(r.URL) }

// indexURL checks the repository URL and returns its index's URL.
func (r *Repository) indexURL() (string, error) {
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" {
		return "", errorf(source.ErrInvalid, "repository URL does not parse as http(s)://host/path")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errorf(source.ErrInvalid, "repository URL scheme %q is not http or https (oci:// repositories are read with OCIChart)", u.Scheme)
	}
	if u.User != nil {
		return "", errorf(source.ErrInvalid, "repository URL holds credentials; set Client.Auth instead")
	}
	return ResolveURL(r.URL, IndexFileName)
}

// download fetches the index file's bytes.
func (r *Repository) download(ctx context.Context) ([]byte, error) {
	iu, err := r.indexURL()
	if err != nil {
		return nil, err
	}
	hc, release, err := r.Client.httpClient()
	defer release()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := r.Client.get(ctx, hc, iu, r.URL, r.maxIndex(), &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Fetch downloads the index and writes it into dir as index.yaml. The
// revision is the index file's digest, "sha256:<hex>", as Flux's
// HelmRepository reports it; when it equals last, Fetch returns
// source.ErrUnchanged and writes nothing. The index must parse. A
// configured Cache is refreshed with the downloaded index. The file
// written is the bytes the server sent (Flux stores the index re-encoded
// as JSON; both are index files Helm reads).
func (r *Repository) Fetch(ctx context.Context, dir, last string) (source.Snapshot, error) {
	red := r.Client.redactor()
	data, err := r.download(ctx)
	if err != nil {
		return source.Snapshot{}, classify(ctx, "index", r.subject(), err, red)
	}
	rev := digestOf(data)
	ix, err := ParseIndex(data)
	if err != nil {
		return source.Snapshot{}, classify(ctx, "index", r.subject(), err, red)
	}
	ix.Digest = rev
	if r.Cache != nil {
		r.Cache.put(r.cacheKey(), ix)
	}
	if last != "" && source.RevisionsEqual(last, rev) {
		return source.Snapshot{Revision: rev}, source.ErrUnchanged
	}
	if err := writeFileAtomic(dir, IndexFileName, data); err != nil {
		return source.Snapshot{}, classify(ctx, "index", r.subject(), err, red)
	}
	return source.Snapshot{Revision: rev, Metadata: map[string]string{"entries": itoa(len(ix.Entries))}}, nil
}

// Index returns the repository's parsed index, from the Cache when it
// holds a fresh one, else downloaded (and then cached).
func (r *Repository) Index(ctx context.Context) (*Index, error) {
	red := r.Client.redactor()
	if r.Cache != nil {
		if ix, ok := r.Cache.get(r.cacheKey()); ok {
			return ix, nil
		}
	}
	data, err := r.download(ctx)
	if err != nil {
		return nil, classify(ctx, "index", r.subject(), err, red)
	}
	ix, err := ParseIndex(data)
	if err != nil {
		return nil, classify(ctx, "index", r.subject(), err, red)
	}
	ix.Digest = digestOf(data)
	if r.Cache != nil {
		r.Cache.put(r.cacheKey(), ix)
	}
	return ix, nil
}

// cacheKey keys the cache by URL and by the credentials (basic auth, a
// client certificate), so that a client never reads an index fetched with
// credentials it does not hold.
func (r *Repository) cacheKey() string {
	k := strings.TrimSuffix(r.URL, "/")
	h := sha256.New()
	creds := false
	if a := r.Client.Auth; a != nil {
		h.Write([]byte("basic\x00" + a.Username + "\x00" + a.Password + "\x00"))
		creds = true
	}
	if t := r.Client.TLS; t != nil && len(t.CertPEM) > 0 {
		h.Write([]byte("cert\x00"))
		h.Write(t.CertPEM)
		h.Write(t.KeyPEM)
		creds = true
	}
	if creds {
		k += "#" + hex.EncodeToString(h.Sum(nil)[:16])
	}
	return k
}

// digestOf returns "sha256:<hex>" of data.
func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return source.FormatRevision("", source.SHA256, hex.EncodeToString(sum[:]))
}

// writeFileAtomic writes data as dir/name through a temporary file.
func writeFileAtomic(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o640); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}
