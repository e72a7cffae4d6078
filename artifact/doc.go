// Package artifact turns a directory tree into a reproducible, digested
// tar.gz artifact, keeps artifacts in a local store that it can serve over
// HTTP and garbage-collect, and, on the consuming side, downloads an
// artifact, verifies its digest and unpacks it safely.
//
// The pieces, in the order data flows through them:
//
//   - [NewIgnoreFilter] builds the exclusion rules Flux users know: the
//     version-control and default patterns, `.sourceignore` files anywhere in
//     the tree and an optional extra pattern block (a GitRepository's
//     spec.ignore), all in gitignore syntax. The [Filter] it returns has a
//     Match method, so it serves as is wherever an ignore matcher is taken
//     (kustomize.Options.Ignore).
//   - [Pack] writes a directory as a gzip-compressed tarball whose bytes only
//     depend on file names, contents and the executable bit: entries are
//     sorted, owners and times are cleared and modes normalised, so the same
//     tree always gets the same digest. Symbolic links are left out unless
//     [ResolveSymlinks] is asked for: then links that stay inside the tree
//     are packed as what they point to and any other link is an error.
//   - [Store] keeps artifacts under `<kind>/<namespace>/<name>/<file>`, the
//     object named by an [ObjectKey]: it packs a fetched snapshot into a
//     content-addressed artifact ([Store.ArchiveSnapshot]), stores bytes
//     atomically ([Store.Put]), opens, verifies and lists them
//     ([Store.Open], [Store.Verify], [Store.List]), removes stale ones by
//     age and count ([Store.GarbageCollect]), removes all of an object's
//     ([Store.RemoveAll], from its key, never from a path) and serves them
//     ([Store.Handler]). [Store.Refresh] chains them for a source
//     controller: fetch a source, pack it into the object's artifact (or
//     store one fetched file as it is, [RefreshOptions].File), collect the
//     superseded ones. Every path segment is validated
//     ([ErrInvalidPath]), every file operation is confined to the store
//     root through an os.Root and never follows a symbolic link planted in
//     the store, and one object's writes, removals and garbage collections
//     are serialised.
//   - [Fetcher] downloads an [Artifact] by URL with a size cap, checks its
//     digest and calls [Unpack], which confines every entry to the target
//     directory, refuses links and device files by default and caps the
//     unpacked size (100 MiB) and entry count, counting every decompressed
//     byte, extended tar headers included, and checking its context on
//     every read. Unpack checks the whole archive in a first pass that
//     writes nothing, so a refusal costs the bytes read, never files
//     written. Every cap, including the Fetcher's download cap, reads 0 as
//     its default and only [Unlimited] as "no limit". Unpacking into a new
//     or empty directory goes through a temporary directory renamed into
//     place, so a failure leaves nothing.
//
// Options outside their documented range (a negative retention, a gzip
// level above 9, a negative retry count) are errors wrapping
// [ErrInvalidOption], never silently replaced by a default.
//
// An [Artifact] mirrors the artifact in Flux's source API: path, URL,
// revision, digest (`sha256:<hex>`), size, last update time and metadata.
//
// Package artifacttest provides an in-process artifact server for tests.
package artifact
