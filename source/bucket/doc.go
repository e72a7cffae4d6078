// Package bucket fetches the objects of an object-storage bucket, as
// Flux's Bucket does, behind the source.Fetcher contract.
//
// A Bucket is configured with a Provider (NewS3 for Amazon S3 and every
// S3-compatible server: MinIO, versitygw, Ceph RGW, ...), an optional key
// prefix, extra ignore patterns, a worker count and size caps; Fetch then
// writes the objects into a directory, each at its key's path:
//
//	s3, err := bucket.NewS3(bucket.S3Options{
//		Endpoint:  "minio.example.com:9000",
//		Bucket:    "manifests",
//		AccessKey: id, SecretKey: secret,
//	})
//	src := &bucket.Bucket{Provider: s3, Prefix: "apps/"}
//	snap, err := src.Fetch(ctx, dir, lastRevision)
//
// The revision is Flux's: "sha256:<hex>" of the sorted key→ETag index
// (see Revision), so a revision computed here equals the one a Flux
// source-controller reports for the same bucket, and vice versa. When the
// listing yields the last revision again, Fetch returns
// source.ErrUnchanged and downloads nothing; the `.sourceignore` object,
// whose patterns shape the index, is downloaded once per ETag and
// remembered by the Bucket.
//
// Ignore rules are applied to keys before anything is downloaded: the
// root `.sourceignore` object and Bucket.Ignore decide the index, as in
// Flux, and the rest of artifact's rules (VCS metadata, and the default
// exclusions when no pattern is given) spare downloads of objects an
// artifact would leave out anyway.
//
// Object keys are untrusted: a key that is not a plain relative path
// ("..", ".", empty segments, a leading "/", backslashes, NUL bytes) is
// refused by name with ErrUnsafeKey before any download. Limits caps the
// listed objects, the total bytes and each object's bytes, checked on the
// listing and enforced on the bytes received.
//
// Errors are *Error values that unwrap to source's sentinels
// (source.ErrAuth, source.ErrNotFound for a missing bucket,
// source.ErrNetwork, source.ErrInvalid) or to this package's
// (ErrUnsafeKey, ErrLimit, ErrObjectNotFound); their text never holds a
// secret key, session token or proxy password.
//
// The Provider interface (List with ETags across pages, Get) is small:
// NewS3 serves S3-compatible storage, package azureblob Azure Blob Storage
// and package gcs Google Cloud Storage (each its own package, so a program
// links only the cloud SDK it uses), and package buckettest offers an
// in-memory Provider for tests.
package bucket
