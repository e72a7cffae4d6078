package git_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"golang.org/x/crypto/ssh"
)

func TestVerification(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	gpgKey := gittest.NewGPGKey(t, "Release Bot", "bot@example.com")
	gpgForeign := gittest.NewGPGKey(t, "Mallory", "mallory@example.com")
	sshKey := gittest.NewSSHSigningKey(t)
	sshForeign := gittest.NewSSHSigningKey(t)

	repo := srv.NewRepo(t, "signed")
	pgpCommit := repo.SignedCommit(gpgKey, "pgp signed", map[string]string{"f": "1"})
	repo.Branch("pgp")
	repo.Checkout("main")
	repo.SignedTag(gpgKey, "v1.0.0", "pgp signed tag")
	repo.AnnotatedTag("v1.0.1", "unsigned annotated tag")
	repo.Tag("v1.0.2")
	sshCommit := repo.SignedCommit(sshKey, "ssh signed", map[string]string{"f": "2"})
	repo.Branch("ssh")
	repo.Checkout("main")
	repo.SignedTag(sshKey, "v2.0.0", "ssh signed tag")
	repo.SignedTag(sshForeign, "v2.0.1", "foreign ssh tag")
	foreignCommit := repo.SignedCommit(gpgForeign, "foreign pgp", map[string]string{"f": "3"})
	repo.Branch("foreign-pgp")
	repo.Checkout("main")
	repo.SignedCommit(sshForeign, "foreign ssh", map[string]string{"f": "4"})
	repo.Branch("foreign-ssh")
	repo.Checkout("main")
	unsigned := repo.Commit("unsigned", map[string]string{"f": "5"})
	repo.Branch("unsigned")
	repo.Checkout("main")
	repo.SignedTag(sshKey, "v3.0.0", "signed tag on an unsigned commit")

	trusted := &git.Verification{PGPKeyRings: []string{gpgKey.PublicKey}, SSHKeys: []string{sshKey.AuthorizedKey}}
	withMode := func(m git.VerifyMode) *git.Verification {
		v := *trusted
		v.Mode = m
		return &v
	}
	sshFP := "SSH " + ssh.FingerprintSHA256(sshKey.PublicKey)
	pgpID := "PGP " + gpgKey.KeyID

	tests := []struct {
		name       string
		ref        git.Reference
		verify     *git.Verification
		wantBy     string // VerifiedBy or TagVerifiedBy
		wantErrHas []string
	}{
		{"pgp commit", git.Reference{Branch: "pgp"}, trusted, pgpID, nil},
		{"ssh commit", git.Reference{Branch: "ssh"}, trusted, sshFP, nil},
		{"lower-case head mode", git.Reference{Branch: "ssh"}, withMode("head"), sshFP, nil},
		{"foreign pgp commit", git.Reference{Branch: "foreign-pgp"}, trusted, "", []string{"commit " + foreignCommit, gpgKey.KeyID, sshFP}},
		{"foreign ssh commit", git.Reference{Branch: "foreign-ssh"}, trusted, "", []string{"commit ", ssh.FingerprintSHA256(sshForeign.PublicKey), "not an expected key", sshFP}},
		{"unsigned commit", git.Reference{Branch: "unsigned"}, trusted, "", []string{"commit " + unsigned + " is not signed", gpgKey.KeyID}},
		{"pgp tag", git.Reference{Tag: "v1.0.0"}, withMode(git.VerifyTag), pgpID, nil},
		{"ssh tag via semver", git.Reference{SemVer: "2.0.0"}, withMode(git.VerifyTag), sshFP, nil},
		{"foreign ssh tag", git.Reference{Tag: "v2.0.1"}, withMode(git.VerifyTag), "", []string{`tag "v2.0.1"`, sshFP}},
		{"unsigned annotated tag", git.Reference{Tag: "v1.0.1"}, withMode(git.VerifyTag), "", []string{`tag "v1.0.1"`, "is not signed"}},
		{"lightweight tag", git.Reference{Tag: "v1.0.2"}, withMode(git.VerifyTag), "", []string{`"v1.0.2" is a lightweight tag`}},
		{"tag and head", git.Reference{Tag: "v2.0.0"}, withMode(git.VerifyTagAndHEAD), sshFP, nil},
		{"tag ok but head unsigned", git.Reference{Tag: "v3.0.0"}, withMode(git.VerifyTagAndHEAD), "", []string{"commit " + unsigned + " is not signed"}},
		{"tag mode ignores an unsigned head", git.Reference{Tag: "v3.0.0"}, withMode(git.VerifyTag), sshFP, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: tt.ref, Verify: tt.verify}, "")
			if len(tt.wantErrHas) > 0 {
				if !errors.Is(err, source.ErrVerification) {
					t.Fatalf("err = %v, want ErrVerification", err)
				}
				for _, s := range tt.wantErrHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			by := snap.Commit.VerifiedBy
			if tt.verify.Mode == git.VerifyTag {
				by = snap.Commit.TagVerifiedBy
			}
			if by != tt.wantBy {
				t.Errorf("verified by %q, want %q", by, tt.wantBy)
			}
		})
	}
	if pgpCommit == sshCommit {
		t.Fatal("commits are not distinct")
	}
}
