// Package buckettest provides an in-memory bucket.Provider for tests of
// code built on package bucket: objects are put and deleted at will, the
// listing is paged as an S3 server pages it, downloads are counted, and
// failures can be injected.
package buckettest
