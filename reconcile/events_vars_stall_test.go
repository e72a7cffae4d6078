package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// recordedEvent is one call of AnnotatedEventf.
type recordedEvent struct {
	Annotations                map[string]string
	Type, Reason, Action, Note string
}

// eventLog is an EventRecorder that keeps what it is given.
type eventLog struct{ events []recordedEvent }

func (l *eventLog) AnnotatedEventf(_, _ runtime.Object, ann map[string]string, eventtype, reason, action, note string, args ...any) {
	l.events = append(l.events, recordedEvent{Annotations: ann, Type: eventtype, Reason: reason, Action: action, Note: fmt.Sprintf(note, args...)})
}

func TestEvents(t *testing.T) {
	log := &eventLog{}
	ev := reconcile.Events{Recorder: log, RevisionKey: "example.com/revision"}
	obj := &corev1.ConfigMap{}
	ev.Normal(obj, "main@sha1:abc", "NewArtifact", "stored 100% of it")
	ev.Warning(obj, "", "Failed", "no revision")
	want := []recordedEvent{
		{Annotations: map[string]string{"example.com/revision": "main@sha1:abc"}, Type: corev1.EventTypeNormal, Reason: "NewArtifact", Action: reconcile.EventAction, Note: "stored 100% of it"},
		{Type: corev1.EventTypeWarning, Reason: "Failed", Action: reconcile.EventAction, Note: "no revision"},
	}
	if diff := cmp.Diff(want, log.events); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// No recorder records nothing, without failing.
	reconcile.Events{}.Warning(obj, "r", "Failed", "dropped")
}

func TestIsStalling(t *testing.T) {
	_, celErr := reconcile.CompileExpression("status.ready ==", "status")
	_, hcErr := reconcile.CompileHealthCheck(reconcile.HealthCheckExpr{APIVersion: "v1", Kind: "ConfigMap", Current: "("})
	_, apiErr := reconcile.CompileHealthCheck(reconcile.HealthCheckExpr{APIVersion: "", Kind: "ConfigMap", Current: "true"})
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"CEL syntax", celErr, true},
		{"health check expression", fmt.Errorf("manager: %w", hcErr), true},
		{"health check apiVersion", apiErr, true},
		{"cross-namespace reference", reconcile.CheckSameNamespace("spec.sourceRef", "GitRepository/x", "a", "b"), true},
		{"source configuration", fmt.Errorf("fetch: %w", source.ErrInvalid), true},
		{"authentication", source.ErrAuth, false},
		{"network", source.ErrNetwork, false},
		{"tenancy refusal", reconcile.ErrOutsideTenancy, false},
		{"API server", apierrors.NewServiceUnavailable("busy"), false},
		{"anything else", errors.New("build failed"), false},
	} {
		if got := reconcile.IsStalling(tt.err); got != tt.want {
			t.Errorf("%s: IsStalling(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
	if celErr == nil || celErr.Error() == reconcile.ErrInvalidExpression.Error() {
		t.Errorf("compile error %v should keep its own text", celErr)
	}
	e, err := reconcile.CompileExpression("status.ready", "status")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Eval(context.Background(), map[string]any{"status": map[string]any{}}); err == nil || reconcile.IsStalling(err) {
		t.Errorf("evaluation error %v: want an error that does not stall", err)
	}
}

func TestObjectVars(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "vars"},
			Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": []byte("2")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "creds"}, Data: map[string][]byte{"token": []byte("s3cr3t")}},
	).Build()
	got, err := reconcile.ObjectVars{Reader: c, Kind: reconcile.ConfigMapKind, Namespace: "apps", Name: "vars"}.LoadVars(ctx)
	if err != nil || !cmp.Equal(got, map[string]string{"a": "1", "b": "2"}) {
		t.Errorf("ConfigMap vars = %v, %v", got, err)
	}
	got, err = reconcile.ObjectVars{Reader: c, Kind: reconcile.SecretKind, Namespace: "apps", Name: "creds"}.LoadVars(ctx)
	if err != nil || !cmp.Equal(got, map[string]string{"token": "s3cr3t"}) {
		t.Errorf("Secret vars = %v, %v", got, err)
	}

	notFound := errors.New("no such source")
	_, err = reconcile.ObjectVars{Reader: c, Kind: reconcile.SecretKind, Namespace: "apps", Name: "missing", NotFound: notFound}.LoadVars(ctx)
	if !errors.Is(err, notFound) {
		t.Errorf("missing Secret with NotFound = %v, want it wrapped", err)
	}
	_, err = reconcile.ObjectVars{Reader: c, Kind: reconcile.ConfigMapKind, Namespace: "apps", Name: "missing"}.LoadVars(ctx)
	if !apierrors.IsNotFound(err) {
		t.Errorf("missing ConfigMap = %v, want a not-found error", err)
	}
	if _, err := (reconcile.ObjectVars{Reader: c, Kind: "Pod", Namespace: "apps", Name: "x"}).LoadVars(ctx); err == nil {
		t.Error("kind Pod: want an error")
	}
}

// ObjectVars reads a Secret's keys as substitution variables.
func ExampleObjectVars() {
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "cluster-vars"}, Data: map[string][]byte{"region": []byte("eu-west-1")}},
	).Build()
	vars, err := reconcile.ObjectVars{Reader: c, Kind: reconcile.SecretKind, Namespace: "apps", Name: "cluster-vars"}.LoadVars(context.Background())
	fmt.Println(vars["region"], err)
	// Output: eu-west-1 <nil>
}

// A controller stalls on a spec that retrying cannot fix and retries
// anything else.
func ExampleIsStalling() {
	_, err := reconcile.CompileHealthCheck(reconcile.HealthCheckExpr{APIVersion: "apps/v1", Kind: "Deployment", Current: "status.("})
	fmt.Println(reconcile.IsStalling(err), reconcile.IsStalling(source.ErrNetwork))
	// Output: true false
}
