package gitrepository

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/source/git"
)

// Repository maps the spec of a GitRepository to a git.Repository without
// credentials, proxy, verification keys or includes (those come from
// Secrets and other objects; see CredentialsFromSecrets). An empty or
// absent spec.ref checks out git.DefaultBranch, as Flux does.
func Repository(spec sourcev1.GitRepositorySpec) *git.Repository {
	r := &git.Repository{
		URL:               spec.URL,
		RecurseSubmodules: spec.RecurseSubmodules,
		SparseCheckout:    append([]string(nil), spec.SparseCheckout...),
	}
	if ref := spec.Reference; ref != nil {
		r.Ref = git.Reference{Branch: ref.Branch, Tag: ref.Tag, SemVer: ref.SemVer, Name: ref.Name, Commit: ref.Commit}
	}
	if r.Ref == (git.Reference{}) {
		// As in Flux, an empty spec.ref means branch "master".
		r.Ref.Branch = git.DefaultBranch
	}
	return r
}

// Verification maps a GitRepository's verify block and the data of its
// Secret to a git.Verification: values holding an armored PGP block are key
// rings, all others are SSH public keys in authorized_keys format.
func Verification(v *sourcev1.GitRepositoryVerification, data map[string][]byte) (*git.Verification, error) {
	if v == nil {
		return nil, nil
	}
	out := &git.Verification{Mode: git.VerifyMode(v.GetMode())}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		val := strings.TrimSpace(string(data[k]))
		switch {
		case val == "":
		case strings.Contains(val, "-----BEGIN PGP PUBLIC KEY BLOCK-----"):
			out.PGPKeyRings = append(out.PGPKeyRings, val)
		default:
			out.SSHKeys = append(out.SSHKeys, val)
		}
	}
	if len(out.PGPKeyRings)+len(out.SSHKeys) == 0 {
		return nil, fmt.Errorf("verification Secret %q holds no public keys", v.SecretRef.Name)
	}
	return out, nil
}

// canSkip reports whether the last artifact may short-circuit the fetch:
// nothing but the remote can have changed it (Refresh checks that it is
// the object's own and still stored).
func canSkip(obj *sourcev1.GitRepository) bool {
	st := obj.Status
	if st.Artifact == nil || len(obj.Spec.Include) > 0 {
		return false
	}
	if !equalPtr(st.ObservedIgnore, obj.Spec.Ignore) || st.ObservedRecurseSubmodules != obj.Spec.RecurseSubmodules ||
		!slices.Equal(st.ObservedSparseCheckout, obj.Spec.SparseCheckout) {
		return false
	}
	if v := obj.Spec.Verification; v != nil {
		return st.SourceVerificationMode != nil && *st.SourceVerificationMode == v.GetMode()
	}
	return st.SourceVerificationMode == nil
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
