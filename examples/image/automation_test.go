package image_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/image"

	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// The automation signs its commit with an SSH key from a Secret, pushes
// to its own branch and an extra refspec, with Flux's reasons for the
// configurations it cannot act on.
func TestAutomationSignsAndPushesRefspec(t *testing.T) {
	const ns = "signing"
	namespace(t, ns)
	startControllers(t, false)

	reg := ocitest.New(t)
	pushTag(t, reg, "web", "3.1.0")
	img := reg.Host + "/web"
	srv := gittest.NewHTTPServer(t, gittest.WithBasicAuth("git-user", "git-pass"))
	fleet := srv.NewRepo(t, "fleet")
	fleet.Commit("init", map[string]string{"web.yaml": "spec:\n  tag: 3.0.0 # {\"$imagepolicy\": \"signing:web:tag\"}\n"})

	key := gittest.NewSSHSigningKey(t)
	pem, err := os.ReadFile(key.PrivateKeyPath)
	if err != nil {
		t.Fatal(err)
	}
	create(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "git", Namespace: ns}, StringData: map[string]string{"username": "git-user", "password": "git-pass"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "signing", Namespace: ns}, Data: map[string][]byte{"identity": pem}},
	)
	src := gitRepository(ns, "fleet", srv.URL+"/fleet")
	src.Spec.SecretRef = &meta.LocalObjectReference{Name: "git"}
	src.Spec.Suspend = true
	tagOnly := gitRepository(ns, "tag-only", srv.URL+"/fleet")
	tagOnly.Spec.Reference = &sourcev1.GitRepositoryRef{Tag: "v1"}
	tagOnly.Spec.Suspend = true
	auto := automation(ns, "auto", "fleet")
	auto.Spec.GitSpec.Commit.SigningKey = &imageautov1.SigningKey{Type: imageautov1.SigningKeyTypeSSH, SecretRef: meta.LocalObjectReference{Name: "signing"}}
	auto.Spec.GitSpec.Push = &imageautov1.PushSpec{Branch: "auto", Refspec: "refs/heads/auto:refs/heads/auto-copy"}
	missing := automation(ns, "missing", "absent")
	notBranch := automation(ns, "not-branch", "tag-only")
	badSelector := automation(ns, "bad-selector", "fleet")
	badSelector.Spec.PolicySelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}
	create(t, src, tagOnly, imageRepository(ns, "web", img), semverPolicy(ns, "web", "", "web", "3.x"), auto, missing, notBranch, badSelector)

	conds := func(a *imageautov1.ImageUpdateAutomation) func() []metav1.Condition {
		return func() []metav1.Condition { return a.Status.Conditions }
	}
	poll(t, time.Minute, "push", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(auto), auto)
		return err == nil && auto.Status.LastPushCommit != "", err
	})
	commit := auto.Status.LastPushCommit
	// The Event, as Flux words it, with the commit message.
	want := "pushed commit '" + commit[:7] + "' to branch 'auto' and refspec 'refs/heads/auto:refs/heads/auto-copy'\nAutomation signing/auto 3.0.0 -> 3.1.0"
	poll(t, 10*time.Second, "push Event", func(ctx context.Context) (bool, error) {
		var evs eventsv1.EventList
		if err := env.Client.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == "auto" && e.Reason == meta.SucceededReason && e.ReportingController == image.AutomationControllerName && e.Note == want {
				return true, nil
			}
		}
		return false, nil
	})
	for _, b := range []string{"auto", "auto-copy"} {
		if got := strings.TrimSpace(fleet.Git("rev-parse", b)); got != commit {
			t.Errorf("branch %s at %s, want %s", b, got, commit)
		}
	}
	if got := fleet.Git("show", "auto:web.yaml"); !strings.Contains(got, "tag: 3.1.0 #") {
		t.Errorf("web.yaml on auto:\n%s", got)
	}
	signers := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(signers, []byte("fluxbot@example.com "+key.AuthorizedKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fleet.Git("-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+signers, "verify-commit", commit)

	readyReason(t, missing, conds(missing), metav1.ConditionFalse, imageautov1.SourceManagerFailedReason)
	readyReason(t, notBranch, conds(notBranch), metav1.ConditionFalse, imageautov1.InvalidSourceConfigReason)
	readyReason(t, badSelector, conds(badSelector), metav1.ConditionFalse, imageautov1.InvalidPolicySelectorReason)
}
