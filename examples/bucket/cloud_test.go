package bucket_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/internal/testbin"
)

// freeAddr returns a free TCP address on the loopback interface.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// run starts a tool until the test ends and waits until addr accepts
// connections.
func run(t *testing.T, addr string, cmd *exec.Cmd) {
	t.Helper()
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), logs.String())
		}
	})
	poll(t, 60*time.Second, filepath.Base(cmd.Path)+" listening", func(context.Context) (bool, error) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil, nil
	})
}

// createCloudBucket creates a Bucket with the given provider and
// endpoint, and a secretRef Secret holding data when it is not nil.
func createCloudBucket(t *testing.T, ns, name, provider, endpoint string, data map[string][]byte) *sourcev1.Bucket {
	t.Helper()
	ctx := context.Background()
	obj := &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.BucketSpec{Provider: provider, BucketName: "fleet", Endpoint: endpoint, Insecure: true,
			Interval: metav1.Duration{Duration: time.Hour}},
	}
	if data != nil {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-auth", Namespace: ns}, Data: data}
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		obj.Spec.SecretRef = &meta.LocalObjectReference{Name: s.Name}
	}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// checkApp unpacks the Bucket's artifact and checks app.yaml's version.
func checkApp(t *testing.T, obj *sourcev1.Bucket, version string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(unpack(t, obj.Status.Artifact), "app.yaml"))
	if err != nil || !strings.Contains(string(got), "version: "+version) {
		t.Errorf("app.yaml of %s = %q, %v; want version %s", obj.Name, got, err, version)
	}
}

// A Bucket with provider "gcp" reads a bucket of fake-gcs-server
// (anonymously, as the emulator checks no credentials) and follows its
// changes; a secretRef without the service-account key is an
// authentication failure naming the key.
func TestBucketGCP(t *testing.T) {
	startControllers(t)
	ns := "bucket-gcp"
	namespace(t, ns)
	addr := freeAddr(t)
	base := "http://" + addr
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(data, "fleet"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "fleet", "app.yaml"), []byte(strings.ReplaceAll(configMap, "%s", "one")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	run(t, addr, exec.Command(testbin.Tool(t, "fake-gcs-server"), "-host", "127.0.0.1", "-port", port,
		"-scheme", "http", "-backend", "memory", "-data", data, "-public-host", addr, "-external-url", base, "-log-level", "warn"))

	obj := createCloudBucket(t, ns, "gcs", sourcev1.BucketProviderGoogle, base, nil)
	first := waitFor(t, obj, "ready", readyNot(""))
	checkApp(t, first, "one")

	// A new version of the object: the next reconcile stores it.
	u := base + "/upload/storage/v1/b/fleet/o?uploadType=media&name=" + url.QueryEscape("app.yaml")
	resp, err := http.Post(u, "application/yaml", strings.NewReader(strings.ReplaceAll(configMap, "%s", "two")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %s", resp.Status)
	}
	request(t, first, "gcs-1")
	second := waitFor(t, obj, "new revision", readyNot(first.Status.Artifact.Revision))
	checkApp(t, second, "two")

	bad := createCloudBucket(t, ns, "gcs-bad", sourcev1.BucketProviderGoogle, base, map[string][]byte{"other": []byte("x")})
	waitFor(t, bad, "authentication failure", func(o *sourcev1.Bucket) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.FetchFailedCondition)
		return c != nil && c.Reason == sourcev1.AuthenticationFailedReason && strings.Contains(c.Message, "'serviceaccount'")
	})
}

// A Bucket with provider "azure" reads a container of Azurite with the
// account's shared key from its Secret and follows its changes; a wrong
// key is an authentication failure that does not show the key.
func TestBucketAzure(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	ns := "bucket-azure"
	namespace(t, ns)
	const account = "gitopskit"
	key := base64.StdEncoding.EncodeToString([]byte("gitopskit-controller-azurite-key-4Tq8Lm2Zp"))
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(testbin.Tool(t, "azurite"), "--blobHost", "127.0.0.1", "--blobPort", port,
		"--location", t.TempDir(), "--disableTelemetry", "--skipApiVersionCheck")
	cmd.Env = append(os.Environ(), "AZURITE_ACCOUNTS="+account+":"+key)
	run(t, addr, cmd)
	endpoint := fmt.Sprintf("http://%s/%s", addr, account)

	cred, err := container.NewSharedKeyCredential(account, key)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := container.NewClientWithSharedKeyCredential(endpoint+"/fleet", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	put := func(version string) {
		t.Helper()
		if _, err := admin.NewBlockBlobClient("app.yaml").UploadBuffer(ctx, []byte(strings.ReplaceAll(configMap, "%s", version)), nil); err != nil {
			t.Fatal(err)
		}
	}
	put("one")

	obj := createCloudBucket(t, ns, "azure", sourcev1.BucketProviderAzure, endpoint, map[string][]byte{"accountKey": []byte(key)})
	first := waitFor(t, obj, "ready", readyNot(""))
	checkApp(t, first, "one")
	put("two")
	request(t, first, "azure-1")
	second := waitFor(t, obj, "new revision", readyNot(first.Status.Artifact.Revision))
	checkApp(t, second, "two")

	wrong := base64.StdEncoding.EncodeToString([]byte("not-the-account-key-at-all-9Xk"))
	bad := createCloudBucket(t, ns, "azure-bad", sourcev1.BucketProviderAzure, endpoint, map[string][]byte{"accountKey": []byte(wrong)})
	got := waitFor(t, bad, "authentication failure", func(o *sourcev1.Bucket) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.FetchFailedCondition)
		return c != nil && c.Reason == sourcev1.AuthenticationFailedReason
	})
	if msg := apimeta.FindStatusCondition(got.Status.Conditions, sourcev1.FetchFailedCondition).Message; strings.Contains(msg, wrong) {
		t.Errorf("the condition shows the account key: %s", msg)
	}
}
