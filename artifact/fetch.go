package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
)

// DefaultMaxDownloadSize caps the size of a downloaded artifact when
// Fetcher.MaxDownloadSize is zero (Flux's consumers use the same 50 MiB).
const DefaultMaxDownloadSize int64 = 50 << 20

// HTTPStatusError reports an unexpected HTTP status while downloading. A 404
// matches ErrNotFound with errors.Is.
type HTTPStatusError struct {
	// URL is the requested URL without credentials, query or fragment.
	URL string
	// StatusCode is the HTTP status received.
	StatusCode int
}

// Error implements error.
func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("GET %s: unexpected status %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *HTTPStatusError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// Fetcher downloads artifacts, verifies their digest and unpacks them. The
// zero value is ready to use: a private HTTP client with a 10-minute
// timeout, DefaultMaxDownloadSize, no retries and Unpack's default limits.
// A field outside its documented range makes Fetch and Download fail with
// an error wrapping ErrInvalidOption.
type Fetcher struct {
	// Client performs the requests; nil means an http.Client with the
	// default transport and a 10-minute timeout.
	Client *http.Client
	// MaxDownloadSize caps the compressed size in bytes; 0 means
	// DefaultMaxDownloadSize (never "no limit"), Unlimited (any negative
	// value) means no limit.
	MaxDownloadSize int64
	// Retries is how many times a failed download is retried after network
	// errors and 429/5xx answers, with doubling back-off from RetryWait.
	// 0 means one attempt only; a negative value is invalid.
	Retries int
	// RetryWait is the first back-off; 0 means one second; a negative
	// value is invalid.
	RetryWait time.Duration
	// Unpack holds the limits applied while unpacking; its zero value
	// applies Unpack's default caps.
	Unpack UnpackOptions
	// TempDir holds downloads until they are verified; "" means the parent
	// of the target directory (or file).
	TempDir string
}

// Fetch downloads a.URL, checks it against a.Digest (required) and unpacks
// it into dir. Nothing is unpacked unless the digest matches.
func (f *Fetcher) Fetch(ctx context.Context, a Artifact, dir string) (UnpackResult, error) {
	tmpDir := f.TempDir
	if tmpDir == "" {
		tmpDir = filepath.Dir(filepath.Clean(dir))
	}
	tmp, err := f.download(ctx, a, tmpDir)
	if err != nil {
		return UnpackResult{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	res, err := Unpack(ctx, tmp, dir, f.Unpack)
	if err != nil {
		return res, fmt.Errorf("artifact %s: %w", redactURL(a.URL), err)
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("fetched artifact", "url", redactURL(a.URL), "revision", a.Revision, "digest", a.Digest, "files", res.Files)
	return res, nil
}

// Download fetches a.URL, checks it against a.Digest (required) and only
// then moves it to the file path dst.
func (f *Fetcher) Download(ctx context.Context, a Artifact, dst string) error {
	tmpDir := f.TempDir
	if tmpDir == "" {
		tmpDir = filepath.Dir(filepath.Clean(dst))
	}
	tmp, err := f.download(ctx, a, tmpDir)
	if err != nil {
		return err
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("artifact %s: %w", redactURL(a.URL), err)
	}
	return nil
}

// download returns a verified temporary file positioned at its start.
func (f *Fetcher) download(ctx context.Context, a Artifact, tmpDir string) (*os.File, error) {
	safeURL := redactURL(a.URL)
	if f.Retries < 0 {
		return nil, fmt.Errorf("artifact fetcher: Retries %d is negative: %w", f.Retries, ErrInvalidOption)
	}
	if f.RetryWait < 0 {
		return nil, fmt.Errorf("artifact fetcher: RetryWait %v is negative: %w", f.RetryWait, ErrInvalidOption)
	}
	if a.URL == "" {
		return nil, errors.New("artifact has no URL")
	}
	if a.Digest == "" {
		return nil, fmt.Errorf("artifact %s: %w: no digest to verify against", safeURL, ErrInvalidDigest)
	}
	alg, _, err := ParseDigest(a.Digest)
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w", safeURL, err)
	}
	limit := f.MaxDownloadSize
	if limit == 0 {
		limit = DefaultMaxDownloadSize
	}
	if limit > 0 && a.Size > limit {
		return nil, fmt.Errorf("artifact %s: size %d is larger than %d bytes: %w", safeURL, a.Size, limit, ErrTooLarge)
	}
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	wait := f.RetryWait
	if wait == 0 {
		wait = time.Second
	}
	if err := os.MkdirAll(tmpDir, 0o750); err != nil {
		return nil, fmt.Errorf("artifact %s: %w", safeURL, err)
	}
	log := logr.FromContextOrDiscard(ctx)
	for attempt := 0; ; attempt++ {
		tmp, retry, err := f.attempt(ctx, client, a, alg, limit, tmpDir)
		if err == nil {
			return tmp, nil
		}
		if !retry || attempt >= f.Retries || ctx.Err() != nil {
			return nil, err
		}
		log.V(1).Info("retrying artifact download", "url", safeURL, "attempt", attempt+1, "error", err.Error())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (f *Fetcher) attempt(ctx context.Context, client *http.Client, a Artifact, alg string, limit int64, tmpDir string) (_ *os.File, retry bool, err error) {
	safeURL := redactURL(a.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return nil, false, fmt.Errorf("artifact %s: invalid URL", safeURL)
	}
	resp, err := client.Do(req)
	if err != nil {
		// The client's error text embeds the full URL; keep only the cause.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return nil, true, fmt.Errorf("GET %s: %w", safeURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return nil, retry, &HTTPStatusError{URL: safeURL, StatusCode: resp.StatusCode}
	}
	if limit > 0 && resp.ContentLength > limit {
		return nil, false, fmt.Errorf("artifact %s: size %d is larger than %d bytes: %w", safeURL, resp.ContentLength, limit, ErrTooLarge)
	}
	tmp, err := os.CreateTemp(tmpDir, tempPrefix+"download-*")
	if err != nil {
		return nil, false, fmt.Errorf("artifact %s: %w", safeURL, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	d, _ := NewDigester(alg)
	body := io.Reader(resp.Body)
	if limit > 0 {
		body = io.LimitReader(resp.Body, limit+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, d), body)
	if err != nil {
		return nil, true, fmt.Errorf("GET %s: reading body: %w", safeURL, err)
	}
	if limit > 0 && n > limit {
		return nil, false, fmt.Errorf("artifact %s: download is larger than %d bytes: %w", safeURL, limit, ErrTooLarge)
	}
	if got := d.Digest(); got != a.Digest {
		return nil, false, fmt.Errorf("artifact %s: %w", safeURL, &DigestMismatchError{Expected: a.Digest, Actual: got})
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, false, fmt.Errorf("artifact %s: %w", safeURL, err)
	}
	return tmp, false, nil
}
