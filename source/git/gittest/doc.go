// Package gittest runs real Git servers on loopback ports for tests, and
// builds repositories with the git command-line tool.
//
// NewHTTPServer serves repositories through `git http-backend` (the smart
// HTTP protocol, as behind most Git hosts) with optional basic auth, bearer
// tokens, TLS and client certificates. NewSSHServer runs an SSH server that
// executes the real git-upload-pack and git-receive-pack for each session,
// accepting only the public keys it was given, and exposes its host key as a
// known_hosts line. Both count the requests they serve, so a test can prove
// that a client did or did not download anything.
//
// Repositories are ordinary working repositories created with NewRepo (or a
// server's NewRepo, which places them where the server serves them). They
// start on branch "main", as `git init` does on most hosts today; a
// git.Reference has no default branch, so tests name it:
// git.Reference{Branch: "main"}. Repo
// has methods to commit files, create branches and tags, and sign commits
// and tags with a GnuPG key (NewGPGKey) or an SSH key (NewSSHSigningKey),
// all through the git CLI and its usual signing programs.
//
// Programs without a testing.TB (demos, benchmark commands) use
// StartHTTPServer and InitWorktree (or the server's InitWorktree) instead:
// a Worktree has the same methods as Repo but returns errors where Repo
// fails the test.
//
// The package needs git on PATH; signing needs gpg or ssh-keygen.
package gittest
