package image_test

import (
	"context"
	"testing"
	"time"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/gitrepository"
	"github.com/gitopskit/gitopskit/examples/image"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	sourcetest.Main(m, testenv.Options{NoNodes: true}, &env)
}

// startControllers runs the image controllers, the GitRepository and the
// Kustomization controllers in a fresh manager until the test ends.
func startControllers(t *testing.T, noCrossNamespaceRefs bool) {
	t.Helper()
	sourcetest.Start(t, env,
		func(ctx context.Context, mgr ctrl.Manager, store *artifact.Store) error {
			return image.Setup(ctx, mgr, image.SetupOptions{
				Controller: image.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true},
				TempDir:    t.TempDir(), NoCrossNamespaceRefs: noCrossNamespaceRefs,
			})
		},
		func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
			r := &gitrepository.Reconciler{Store: store, TempDir: t.TempDir()}
			return r.SetupWithManager(mgr, gitrepository.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
		},
		sourcetest.Kustomization(t))
}

var (
	poll  = sourcetest.Poll
	ready = sourcetest.Ready
)

func namespace(t *testing.T, name string) {
	t.Helper()
	sourcetest.Namespace(t, env, name)
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func imageRepository(ns, name, img string) *imagev1.ImageRepository {
	return &imagev1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       imagev1.ImageRepositorySpec{Image: img, Insecure: true, Interval: metav1.Duration{Duration: time.Second}},
	}
}

func semverPolicy(ns, name, repoNS, repo, rng string) *imagev1.ImagePolicy {
	return &imagev1.ImagePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: imagev1.ImagePolicySpec{
			ImageRepositoryRef: meta.NamespacedObjectReference{Namespace: repoNS, Name: repo},
			Policy:             imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: rng}},
		},
	}
}

func gitRepository(ns, name, url string) *sourcev1.GitRepository {
	return &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL: url, Interval: metav1.Duration{Duration: time.Second},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
}

func automation(ns, name, source string) *imageautov1.ImageUpdateAutomation {
	return &imageautov1.ImageUpdateAutomation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: imageautov1.ImageUpdateAutomationSpec{
			SourceRef: imageautov1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: source},
			Interval:  metav1.Duration{Duration: time.Hour},
			GitSpec: &imageautov1.GitSpec{Commit: imageautov1.CommitSpec{
				Author:          imageautov1.CommitUser{Name: "fluxbot", Email: "fluxbot@example.com"},
				MessageTemplate: `Automation {{ .AutomationObject }}{{ range .Changed.Changes }} {{ .OldValue }} -> {{ .NewValue }}{{ end }}`,
			}},
			Update: &imageautov1.UpdateStrategy{Strategy: imageautov1.UpdateStrategySetters, Path: "./"},
		},
	}
}
