package helmrelease_test

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testbin"
)

// TestCLIView checks what a Flux user sees of a release with the CLIs:
// `helm list` and `helm history` show the release and its revisions,
// `flux get helmreleases` the chart version and the Ready message.
func TestCLIView(t *testing.T) {
	startControllers(t)
	ns := "hr-cli"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3")
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
		},
	}
	create(t, hr)
	waitFor(t, hr, releaseWait, "installed", ready(helmv2.InstallSucceededReason, 1))
	update(t, hr, func(o *helmv2.HelmRelease) { o.Spec.Values = values(t, map[string]any{"replicaCount": 2}) })
	waitFor(t, hr, releaseWait, "upgraded", ready(helmv2.UpgradeSucceededReason, 2))

	run := func(tool string, args ...string) string {
		t.Helper()
		out, err := exec.Command(testbin.Tool(t, tool), append([]string{"--kubeconfig", env.KubeconfigPath, "-n", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var list []struct {
		Name, Namespace, Revision, Status, Chart string
		AppVersion                               string `json:"app_version"`
	}
	if out := run("helm", "list", "-o", "json"); json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 ||
		list[0].Name != "web" || list[0].Revision != "2" || list[0].Status != "deployed" || list[0].Chart != "app-1.2.3" || list[0].AppVersion != "4.5.6" {
		t.Errorf("helm list: %s", out)
	}
	var history []struct {
		Revision int
		Status   string
	}
	if out := run("helm", "history", "web", "-o", "json"); json.Unmarshal([]byte(out), &history) != nil || len(history) != 2 ||
		history[0].Status != "superseded" || history[1].Status != "deployed" {
		t.Errorf("helm history: %s", out)
	}
	out := run("flux", "get", "helmreleases")
	re := regexp.MustCompile(`(?m)^web\s+1\.2\.3\s+False\s+True\s+Helm upgrade succeeded for release hr-cli/web\.v2 with chart app@1\.2\.3\s*$`)
	if !re.MatchString(out) {
		t.Errorf("flux get helmreleases output does not match %s:\n%s", re, out)
	}
}
