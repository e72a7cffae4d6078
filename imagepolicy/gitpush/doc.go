// Package gitpush is the Git side of image update automation: clone the
// checkout branch with go-git into a working directory (where update.Apply
// rewrites files), commit what changed, optionally signed with OpenPGP
// (go-git's SignKey) or SSH (OpenSSH's SSHSIG format, through
// github.com/hiddeco/sshsig, the library Flux signs with), and push.
//
// It follows Flux's ImageUpdateAutomation: a push branch different from the
// checkout branch continues from the push branch when it already exists
// (Flux's default, GitAllBranchReferences) or starts afresh from the checkout
// branch with ResetPushBranch (the gate turned off), and in both cases is
// force-pushed, as Flux's GitForcePushBranch does, so an automation branch
// is overwritten; an extra refspec (spec.git.push.refspec) is pushed after
// the branch; push options (spec.git.push.options) are sent with the push;
// a working tree without changes makes no commit (ErrNoChanges).
//
// Transport settings are go-git's (transport.AuthMethod, a CA bundle, proxy
// options). Errors are *source.Error values with Origin "git" that unwrap to
// source.ErrAuth, ErrNotFound, ErrRefNotFound or ErrNetwork, or to
// ErrRejected when the server refused the push; their text carries the URL
// without credentials and never a password or token.
package gitpush
