package gitrepository_test

import (
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/examples/gitrepository"
	"github.com/gitopskit/gitopskit/source/git"
)

func TestVerification(t *testing.T) {
	pgp := "-----BEGIN PGP PUBLIC KEY BLOCK-----\nxyz\n-----END PGP PUBLIC KEY BLOCK-----"
	ssh := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB example"
	tests := []struct {
		name    string
		mode    sourcev1.GitVerificationMode
		data    map[string][]byte
		want    *git.Verification
		wantErr string
	}{
		{"pgp", "", map[string][]byte{"author.asc": []byte(pgp)}, &git.Verification{Mode: git.VerifyHEAD, PGPKeyRings: []string{pgp}}, ""},
		{"ssh and pgp sorted by key", sourcev1.ModeGitTagAndHEAD, map[string][]byte{"b": []byte(pgp), "a": []byte(ssh + "\n")},
			&git.Verification{Mode: git.VerifyTagAndHEAD, PGPKeyRings: []string{pgp}, SSHKeys: []string{ssh}}, ""},
		{"invalid mode means HEAD", "weird", map[string][]byte{"k": []byte(ssh)}, &git.Verification{Mode: git.VerifyHEAD, SSHKeys: []string{ssh}}, ""},
		{"empty", sourcev1.ModeGitTag, map[string][]byte{"k": []byte("  ")}, nil, `verification Secret "keys" holds no public keys`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &sourcev1.GitRepositoryVerification{Mode: tc.mode, SecretRef: meta.LocalObjectReference{Name: "keys"}}
			got, err := gitrepository.Verification(v, tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if v, err := gitrepository.Verification(nil, nil); v != nil || err != nil {
		t.Errorf("nil verification = %v, %v", v, err)
	}
}

func TestRepository(t *testing.T) {
	spec := sourcev1.GitRepositorySpec{
		URL:               "ssh://git@example.com/fleet.git",
		Reference:         &sourcev1.GitRepositoryRef{Branch: "main", Commit: "0123456789012345678901234567890123456789"},
		RecurseSubmodules: true,
	}
	want := &git.Repository{
		URL:               spec.URL,
		Ref:               git.Reference{Branch: "main", Commit: "0123456789012345678901234567890123456789"},
		RecurseSubmodules: true,
	}
	if diff := cmp.Diff(want, gitrepository.Repository(spec), cmp.AllowUnexported(git.Repository{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// No ref, or an empty one, is Flux's default branch.
	for _, ref := range []*sourcev1.GitRepositoryRef{nil, {}} {
		got := gitrepository.Repository(sourcev1.GitRepositorySpec{URL: spec.URL, Reference: ref})
		if got.Ref != (git.Reference{Branch: "master"}) {
			t.Errorf("spec.ref %v: Ref = %+v, want branch master", ref, got.Ref)
		}
	}
}
