// Package git is the Git source: a Repository value, configured with a URL,
// a reference, credentials and options, whose Fetch checks a commit out
// into a directory and returns a source.Snapshot with the revision in
// Flux's format ("main@sha1:<hex>", "sha1:<hex>") and the commit's
// metadata.
//
// What it covers, following Flux's GitRepository:
//
//   - References: branch, tag, semver range over tags (highest match),
//     full reference name ("refs/pull/1/head"), commit alone or within a
//     branch. Precedence when several are set is the one Flux's Git client
//     applies: commit, name, tag, semver, branch. Branch, tag, name and
//     semver checkouts are shallow (depth 1); a commit is fetched by hash
//     with depth 1 when the server allows it. A Reference must name what
//     to check out: the zero value is a configuration error, not a guess
//     at a default branch (Flux's is "master", most hosts' and gittest's
//     is "main"); Branch: DefaultBranch gives Flux's default.
//   - Credentials (Auth): HTTP basic, bearer token, custom CA bundle and
//     client certificate, SSH private key (optionally encrypted) with
//     known_hosts required — an unknown host key is always an error. An
//     HTTP or SOCKS5 Proxy. AuthFromSecretData and ProxyFromSecretData map
//     the data of Flux's Secrets.
//   - Verification of PGP- and SSH-signed commits and annotated tags
//     (modes HEAD, Tag, TagAndHEAD). SSH signatures (OpenSSH's SSHSIG
//     format) are checked with github.com/hiddeco/sshsig, the library
//     imagepolicy/gitpush signs commits with.
//   - The no-op check: with the last revision given, one ls-remote round
//     trip decides that nothing changed, and Fetch returns
//     source.ErrUnchanged without downloading objects.
//   - Submodules (opt-in), sparse checkout of directories, and includes of
//     other snapshots' subtrees. By default a submodule may live on any
//     host, as in Git and Flux; SubmodulesSameHost confines submodules to
//     the parent's host (refusing, say, http://10.0.0.1/ from a public
//     repository) and is what a multi-tenant controller should set.
//
// Objects are held in memory during a fetch and only the working tree is
// written: dir never contains a .git directory.
//
// Errors are *Error values that unwrap to source.ErrAuth, ErrNotFound,
// ErrRefNotFound, ErrVerification, ErrNetwork or, for a configuration
// that cannot be acted on (found before anything is fetched),
// ErrInvalid; their text carries the
// URL without credentials and masks, through a source.Redactor built from
// the credentials in use, every form they were sent in (passwords, the
// base64 of basic auth, tokens, the URL's and the proxy's userinfo), even
// when a server echoes them in its answer.
package git
