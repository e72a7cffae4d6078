package bucket

import (
	"context"
	"errors"
	"io"
)

// Object describes one object as a provider lists or serves it.
type Object struct {
	// Key is the object's full key in the bucket, prefix included.
	Key string
	// ETag is the entity tag without surrounding quotes.
	ETag string
	// Size is the object's size in bytes, or -1 when unknown.
	Size int64
}

// Provider is the small interface an object store implements for Bucket:
// a recursive listing with ETags and a download. Implementations handle
// paging themselves, are safe for concurrent use, and report failures
// with errors that wrap source.ErrAuth, source.ErrNotFound (the bucket
// does not exist), source.ErrNetwork or ErrObjectNotFound, and never hold
// a credential. NewS3 returns the S3-compatible implementation;
// buckettest.Provider is an in-memory one for tests.
type Provider interface {
	// List calls visit for every object whose key starts with prefix, in
	// any order, across all pages of the listing. Keys ending in "/" (the
	// directory markers some tools create) may be passed; Bucket skips
	// them. List stops and returns visit's error as soon as visit returns
	// one.
	List(ctx context.Context, prefix string, visit func(Object) error) error
	// Get opens the object with the given key and returns its content and
	// its description at the time of the download (the ETag may differ
	// from the listing's when the object changed in between). A missing
	// key is an error wrapping ErrObjectNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, Object, error)
}

// ErrObjectNotFound reports that a listed object no longer exists.
// Providers wrap it; Bucket drops such an object from the snapshot, as
// Flux does.
var ErrObjectNotFound = errors.New("object not found")
