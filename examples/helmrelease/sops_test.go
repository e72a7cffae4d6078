package helmrelease_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

// valuesChart serves a chart whose one ConfigMap, "<release>-values",
// holds the values db.password, api.token and file, and creates a
// HelmRepository "values" for it in ns.
func valuesChart(t *testing.T, ns string) {
	t.Helper()
	srv := helmtest.New(t)
	if _, err := srv.AddChart(map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: values\nversion: 0.1.0\n",
		"values.yaml": "db: {password: chart}\napi: {token: chart}\nfile: chart\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-values\ndata:\n" +
			"  password: {{ .Values.db.password | quote }}\n  token: {{ .Values.api.token | quote }}\n  file: {{ .Values.file | quote }}\n",
	}); err != nil {
		t.Fatal(err)
	}
	create(t, &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "values", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}},
	})
}

// valuesRelease is a HelmRelease of valuesChart with annotations.
func valuesRelease(ns, name string, annotations map[string]string, from ...helmv2.ValuesReference) *helmv2.HelmRelease {
	return &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "values", Version: "0.1.0",
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "values"},
			}},
			ValuesFrom: from,
		},
	}
}

// sopsEncrypt encrypts a YAML document for the age recipient with the
// sops CLI.
func sopsEncrypt(t *testing.T, id *age.X25519Identity, plain string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, []byte(plain), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testbin.Tool(t, "sops"), "encrypt", "--age", id.Recipient().String(), p)
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE=/nonexistent")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops encrypt: %v", err)
	}
	if strings.Contains(string(out), "s3cr3t") {
		t.Fatal("sops left the value in clear")
	}
	return string(out)
}

// noPlaintext fails the test if the HelmRelease or any Event of ns
// carries text.
func noPlaintext(t *testing.T, hr *helmv2.HelmRelease, text string) {
	t.Helper()
	b, err := json.Marshal(hr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), text) {
		t.Errorf("HelmRelease %s carries the plaintext: %s", hr.Name, b)
	}
	var evs eventsv1.EventList
	if err := env.Client.List(context.Background(), &evs, client.InNamespace(hr.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		if strings.Contains(e.Note, text) {
			t.Errorf("Event %s carries the plaintext: %s", e.Reason, e.Note)
		}
	}
}

// SOPS-encrypted valuesFrom documents, in a Secret and in a ConfigMap, are
// decrypted with the age key of the annotation's Secret; without the
// annotation, or with a Secret that does not exist, the release fails
// with a message saying so, and the plaintext is in no status or Event.
func TestHelmReleaseSOPSValues(t *testing.T) {
	startControllers(t)
	ns := "hr-sops"
	sourcetest.Namespace(t, env, ns)
	valuesChart(t, ns)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sops-keys", Namespace: ns},
		Data:       map[string][]byte{"identity.agekey": []byte(id.String())},
	})
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Data:       map[string][]byte{"values.yaml": []byte(sopsEncrypt(t, id, "db:\n  password: s3cr3t-db\n"))},
	})
	create(t, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Data:       map[string]string{"api.yaml": sopsEncrypt(t, id, "api:\n  token: s3cr3t-api\n")},
	})
	from := []helmv2.ValuesReference{{Kind: "Secret", Name: "db"}, {Kind: "ConfigMap", Name: "api", ValuesKey: "api.yaml"}}

	plain := valuesRelease(ns, "plain", nil, from...)
	create(t, plain)
	absent := valuesRelease(ns, "absent", map[string]string{helmrelease.ValuesDecryptionSecretAnnotation: "no-such-keys"}, from...)
	create(t, absent)
	app := valuesRelease(ns, "app", map[string]string{helmrelease.ValuesDecryptionSecretAnnotation: "sops-keys"}, from...)
	create(t, app)

	waitFor(t, app, releaseWait, "app installed", ready(helmv2.InstallSucceededReason, 1))
	var cm corev1.ConfigMap
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "app-values"}, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["password"] != "s3cr3t-db" || cm.Data["token"] != "s3cr3t-api" {
		t.Errorf("decrypted values not applied: %v", cm.Data)
	}

	waitFor(t, plain, 60*time.Second, "plain refused", condition(meta.ReadyCondition, metav1.ConditionFalse, "InitFailed"))
	if c := apimeta.FindStatusCondition(plain.Status.Conditions, meta.ReadyCondition); !strings.Contains(c.Message, helmrelease.ValuesDecryptionSecretAnnotation) ||
		!strings.Contains(c.Message, "encrypted") {
		t.Errorf("plain: the message should say the values are encrypted and name the annotation: %q", c.Message)
	}
	t.Logf("without the annotation: %s", apimeta.FindStatusCondition(plain.Status.Conditions, meta.ReadyCondition).Message)
	if plain.Status.History.Latest() != nil {
		t.Errorf("plain installed with ciphertext values: %+v", plain.Status.History)
	}
	waitFor(t, absent, 60*time.Second, "absent refused", condition(meta.ReadyCondition, metav1.ConditionFalse, "InitFailed"))
	if c := apimeta.FindStatusCondition(absent.Status.Conditions, meta.ReadyCondition); !strings.Contains(c.Message, `"no-such-keys"`) {
		t.Errorf("absent: the message should name the Secret: %q", c.Message)
	}
	for _, hr := range []*helmv2.HelmRelease{app, plain, absent} {
		noPlaintext(t, hr, "s3cr3t")
	}
}
