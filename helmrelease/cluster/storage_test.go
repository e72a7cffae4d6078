package cluster_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/release"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/internal/testbin"
)

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// record is a release as an install stores it: the testdata chart,
// values, a manifest, hooks and custom labels.
func record(t *testing.T, name, ns string, version int, status rcommon.Status) *releasev1.Release {
	t.Helper()
	at := time.Date(2026, 11, 30, 12, 0, version, 0, time.UTC)
	return &releasev1.Release{
		Name:      name,
		Namespace: ns,
		Version:   version,
		Info: &releasev1.Info{
			FirstDeployed: at, LastDeployed: at, Status: status,
			Description: "Install complete <&>", Notes: "NOTES for " + name,
		},
		Chart:  chart(t).Helm(),
		Config: map[string]any{"replicaCount": 2, "image": map[string]any{"tag": "1.2.3"}, "html": "<b>&amp;</b>"},
		Manifest: "---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name +
			"-cm\ndata:\n  revision: \"" + strconv.Itoa(version) + "\"\n",
		Hooks: []*releasev1.Hook{{
			Name: name + "-hook", Kind: "Job", Path: "app/templates/hook.yaml", Manifest: "kind: Job",
			Events: []releasev1.HookEvent{releasev1.HookPreInstall}, Weight: 1,
		}},
		Labels:      map[string]string{"team": "platform", "tier": "web"},
		ApplyMethod: "ssa",
	}
}

func key(name string, version int) string {
	return "sh.helm.release.v1." + name + ".v" + strconv.Itoa(version)
}

// same compares releases by their JSON (what storage keeps) and labels.
func same(t *testing.T, what string, got release.Releaser, want *releasev1.Release, wantLabels map[string]string) {
	t.Helper()
	g, ok := got.(*releasev1.Release)
	if !ok {
		t.Fatalf("%s: release of type %T", what, got)
	}
	gj, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	wj, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gj, wj) {
		t.Errorf("%s: release differs:\n%s", what, cmp.Diff(string(wj), string(gj)))
	}
	if wantLabels != nil {
		if d := cmp.Diff(wantLabels, g.Labels); d != "" {
			t.Errorf("%s: labels (-want +got):\n%s", what, d)
		}
	}
}

// TestStorageFormatMatchesHelm writes the same releases with Helm's own
// Secrets driver and with ours, and requires the same Secrets (name, type,
// labels, and the release data byte for byte, creation and modification
// stamps aside), then reads each driver's records with the other.
func TestStorageFormatMatchesHelm(t *testing.T) {
	ctx := context.Background()
	cs := clientset(t)
	helmNS, ourNS := "storage-helm", "storage-ours"
	namespace(t, helmNS)
	namespace(t, ourNS)
	helmDrv := driver.NewSecrets(cs.CoreV1().Secrets(helmNS))
	ours := cluster.NewSecretsDriver(cs.CoreV1().Secrets(ourNS), nil)
	const name = "fmt"

	v1 := record(t, name, "apps", 1, rcommon.StatusDeployed)
	for _, d := range []driver.Driver{helmDrv, ours} {
		if err := d.Create(key(name, 1), v1); err != nil {
			t.Fatalf("%T create: %v", d, err)
		}
	}
	v1.SetStatus(rcommon.StatusSuperseded, "superseded by 2")
	v2 := record(t, name, "apps", 2, rcommon.StatusDeployed)
	v2.Labels = nil
	for _, d := range []driver.Driver{helmDrv, ours} {
		if err := d.Update(key(name, 1), v1); err != nil {
			t.Fatalf("%T update: %v", d, err)
		}
		if err := d.Create(key(name, 2), v2); err != nil {
			t.Fatalf("%T create v2: %v", d, err)
		}
	}

	for _, k := range []string{key(name, 1), key(name, 2)} {
		h, err := cs.CoreV1().Secrets(helmNS).Get(ctx, k, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o, err := cs.CoreV1().Secrets(ourNS).Get(ctx, k, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if o.Type != h.Type || o.Type != "helm.sh/release.v1" {
			t.Errorf("%s: type %q, Helm's %q", k, o.Type, h.Type)
		}
		if len(o.Data) != 1 || len(h.Data) != 1 || !bytes.Equal(o.Data["release"], h.Data["release"]) {
			t.Errorf("%s: release data differs from Helm's (%d and %d bytes)", k, len(o.Data["release"]), len(h.Data["release"]))
		}
		for _, stamp := range []string{"createdAt", "modifiedAt"} {
			hstamp, hok := h.Labels[stamp]
			ostamp, ook := o.Labels[stamp]
			if hok != ook {
				t.Errorf("%s: label %s present %v, in Helm's %v", k, stamp, ook, hok)
				continue
			}
			if !ook {
				continue
			}
			hv, herr := strconv.ParseInt(hstamp, 10, 64)
			ov, oerr := strconv.ParseInt(ostamp, 10, 64)
			if herr != nil || oerr != nil || ov-hv > 60 || hv-ov > 60 {
				t.Errorf("%s: label %s=%q, Helm's %q", k, stamp, ostamp, hstamp)
			}
			delete(h.Labels, stamp)
			delete(o.Labels, stamp)
		}
		if d := cmp.Diff(h.Labels, o.Labels); d != "" {
			t.Errorf("%s: labels (-Helm's +ours):\n%s", k, d)
		}
	}
	if t.Failed() {
		return
	}

	// Each reads the other's records.
	custom := map[string]string{"team": "platform", "tier": "web"}
	for _, c := range []struct {
		what   string
		reader driver.Driver
	}{
		{"ours reading Helm's", cluster.NewSecretsDriver(cs.CoreV1().Secrets(helmNS), nil)},
		{"Helm's reading ours", driver.NewSecrets(cs.CoreV1().Secrets(ourNS))},
	} {
		got, err := c.reader.Get(key(name, 1))
		if err != nil {
			t.Fatalf("%s: get: %v", c.what, err)
		}
		same(t, c.what+" get v1", got, v1, custom)
		got, err = c.reader.Get(key(name, 2))
		if err != nil {
			t.Fatalf("%s: get v2: %v", c.what, err)
		}
		same(t, c.what+" get v2", got, v2, map[string]string{})
		rs, err := c.reader.Query(map[string]string{"name": name, "owner": "helm", "status": "deployed"})
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: query deployed: %d %v", c.what, len(rs), err)
		}
		same(t, c.what+" query", rs[0], v2, nil)
		if got := rs[0].(*releasev1.Release).Labels; got["status"] != "deployed" || got["version"] != "2" || got["owner"] != "helm" || got["name"] != name {
			t.Errorf("%s: query labels %v", c.what, got)
		}
		rs, err = c.reader.List(func(r release.Releaser) bool { return r.(*releasev1.Release).Version == 1 })
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: list: %d %v", c.what, len(rs), err)
		}
		same(t, c.what+" list", rs[0], v1, nil)
	}
}

// TestStorageRoundTrip runs the driver through Helm's storage as an
// install, upgrade and uninstall do, with the error values Helm tests for.
func TestStorageRoundTrip(t *testing.T) {
	ns := "storage-rt"
	namespace(t, ns)
	cs := clientset(t)
	d := cluster.NewSecretsDriver(cs.CoreV1().Secrets(ns), new(cluster.StorageBuffers))
	if d.Name() != driver.SecretsDriverName {
		t.Errorf("driver name %q", d.Name())
	}
	st := storage.Init(d)
	const name = "rt"

	if _, err := st.Last(name); !errors.Is(err, driver.ErrReleaseNotFound) {
		t.Fatalf("last of an absent release: %v", err)
	}
	if _, err := d.Get(key(name, 1)); !errors.Is(err, driver.ErrReleaseNotFound) {
		t.Fatalf("get of an absent release: %v", err)
	}
	if _, err := d.Delete(key(name, 1)); !errors.Is(err, driver.ErrReleaseNotFound) {
		t.Fatalf("delete of an absent release: %v", err)
	}
	v1 := record(t, name, ns, 1, rcommon.StatusPendingInstall)
	if err := st.Create(v1); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(v1); !errors.Is(err, driver.ErrReleaseExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := st.Deployed(name); !errors.Is(err, driver.ErrNoDeployedReleases) {
		t.Fatalf("deployed while pending: %v", err)
	}
	v1.SetStatus(rcommon.StatusDeployed, "Install complete")
	if err := st.Update(v1); err != nil {
		t.Fatal(err)
	}
	got, err := st.Deployed(name)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "deployed v1", got, v1, nil)
	got, err = d.Get(key(name, 1))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "get v1", got, v1, map[string]string{"team": "platform", "tier": "web"})

	v1.SetStatus(rcommon.StatusSuperseded, "superseded")
	v2 := record(t, name, ns, 2, rcommon.StatusDeployed)
	if err := st.Update(v1); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(v2); err != nil {
		t.Fatal(err)
	}
	hist, err := st.History(name)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %d %v", len(hist), err)
	}
	last, err := st.Last(name)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "last", last, v2, nil)
	all, err := st.ListReleases()
	if err != nil || len(all) != 2 {
		t.Fatalf("list releases: %d %v", len(all), err)
	}
	if _, err := d.Query(map[string]string{"name": "not a label value!"}); err == nil {
		t.Error("query with an invalid label value succeeded")
	}
	if _, err := d.Query(map[string]string{"name": "absent", "owner": "helm"}); !errors.Is(err, driver.ErrReleaseNotFound) {
		t.Errorf("query of an absent release: %v", err)
	}

	del, err := st.Delete(name, 1)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "deleted", del, v1, nil)
	if _, err := d.Get(key(name, 1)); !errors.Is(err, driver.ErrReleaseNotFound) {
		t.Errorf("get after delete: %v", err)
	}

	// A record from before Helm compressed them: base64 of plain JSON.
	js, err := json.Marshal(v1)
	if err != nil {
		t.Fatal(err)
	}
	legacy := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: key("legacy", 1), Labels: map[string]string{"name": "legacy", "owner": "helm", "status": "deployed", "version": "1"}},
		Type:       "helm.sh/release.v1",
		Data:       map[string][]byte{"release": []byte(base64.StdEncoding.EncodeToString(js))},
	}
	if _, err := cs.CoreV1().Secrets(ns).Create(context.Background(), legacy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err = d.Get(key("legacy", 1))
	if err != nil {
		t.Fatal(err)
	}
	same(t, "uncompressed record", got, v1, map[string]string{})

	// A record that does not decode fails Get and is left out of List.
	bad := legacy.DeepCopy()
	bad.Name = key("bad", 1)
	bad.Labels["name"] = "bad"
	bad.Data["release"] = []byte(base64.StdEncoding.EncodeToString([]byte{0x1f, 0x8b, 0x08, 0, 0, 0}))
	if _, err := cs.CoreV1().Secrets(ns).Create(context.Background(), bad, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(bad.Name); err == nil || !strings.Contains(err.Error(), bad.Name) {
		t.Errorf("get of a corrupt record: %v", err)
	}
	all, err = d.List(func(release.Releaser) bool { return true })
	if err != nil || len(all) != 2 {
		t.Errorf("list with a corrupt record: %d %v", len(all), err)
	}
}

// TestStorageConcurrent shares one StorageBuffers among drivers writing
// and reading at once: every record reads back as written.
func TestStorageConcurrent(t *testing.T) {
	ns := "storage-conc"
	namespace(t, ns)
	cs := clientset(t)
	buf := new(cluster.StorageBuffers)
	base := record(t, "c", ns, 1, rcommon.StatusDeployed)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			d := cluster.NewSecretsDriver(cs.CoreV1().Secrets(ns), buf)
			name := "c" + strconv.Itoa(i)
			for v := 1; v <= 3; v++ {
				r := *base
				r.Name, r.Version = name, v
				r.Config = map[string]any{"i": i, "v": v, "pad": strings.Repeat(name, 1000*i)}
				if err := d.Create(key(name, v), &r); err != nil {
					errs <- err
					return
				}
				got, err := d.Get(key(name, v))
				if err != nil {
					errs <- err
					return
				}
				g := got.(*releasev1.Release)
				if g.Name != name || g.Version != v || g.Config["pad"] != r.Config["pad"] {
					errs <- errors.New("record " + key(name, v) + " read back differently")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestStorageHelmCLI: the helm CLI lists, shows the history and values of
// releases our driver wrote, and its uninstall (which rewrites a record
// with Helm's own driver) is read back by ours.
func TestStorageHelmCLI(t *testing.T) {
	ns := "storage-cli"
	namespace(t, ns)
	cs := clientset(t)
	d := cluster.NewSecretsDriver(cs.CoreV1().Secrets(ns), nil)
	st := storage.Init(d)
	const name = "cli"
	v1 := record(t, name, ns, 1, rcommon.StatusSuperseded)
	v2 := record(t, name, ns, 2, rcommon.StatusDeployed)
	v2.Config = map[string]any{"replicaCount": 3}
	v1.Manifest, v2.Manifest, v1.Hooks, v2.Hooks = "", "", nil, nil
	for _, r := range []*releasev1.Release{v1, v2} {
		if err := st.Create(r); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	helm := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(testbin.Tool(t, "helm"), append([]string{"--kubeconfig", env.KubeconfigPath, "-n", ns}, args...)...)
		cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
			}
			t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	var list []struct {
		Name, Namespace, Revision, Status, Chart string
	}
	out := helm("list", "-o", "json")
	if err := json.Unmarshal(out, &list); err != nil || len(list) != 1 || list[0].Name != name || list[0].Revision != "2" ||
		list[0].Status != "deployed" || list[0].Chart != v2.Chart.Metadata.Name+"-"+v2.Chart.Metadata.Version {
		t.Errorf("helm list: %v %s", err, out)
	}
	var history []struct {
		Revision    int
		Status      string
		Description string
	}
	out = helm("history", name, "-o", "json")
	if err := json.Unmarshal(out, &history); err != nil || len(history) != 2 || history[0].Revision != 1 || history[0].Status != "superseded" ||
		history[1].Revision != 2 || history[1].Status != "deployed" || history[1].Description != v2.Info.Description {
		t.Errorf("helm history: %v %s", err, out)
	}
	var values map[string]any
	out = helm("get", "values", name, "-o", "json")
	if err := json.Unmarshal(out, &values); err != nil || values["replicaCount"] != float64(3) || len(values) != 1 {
		t.Errorf("helm get values: %v %s", err, out)
	}
	out = helm("get", "values", name, "--revision", "1", "-o", "json")
	if err := json.Unmarshal(out, &values); err != nil || values["replicaCount"] != float64(2) {
		t.Errorf("helm get values --revision 1: %v %s", err, out)
	}

	helm("uninstall", name, "--keep-history", "--no-hooks")
	got, err := st.Last(name)
	if err != nil {
		t.Fatal(err)
	}
	g := got.(*releasev1.Release)
	if g.Version != 2 || g.Info.Status != rcommon.StatusUninstalled || g.Info.Deleted.IsZero() || g.Labels["status"] != "uninstalled" ||
		g.Labels["modifiedAt"] == "" || g.Labels["team"] != "platform" {
		t.Errorf("after helm uninstall: version %d status %s deleted %v labels %v", g.Version, g.Info.Status, g.Info.Deleted, g.Labels)
	}
	if g.Config["replicaCount"] != float64(3) {
		t.Errorf("after helm uninstall: values %v", g.Config)
	}
}
