package kustomization_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testbin"
)

// TestKubectlView checks what a Flux user sees with kubectl: `kubectl wait
// --for=condition=Ready` returns once the controllers are done and `kubectl
// get gitrepositories,kustomizations` shows Flux's columns.
func TestKubectlView(t *testing.T) {
	kubectl := testbin.Tool(t, "kubectl")
	f := newFleet(t, "e2e-kubectl", map[string]string{"app/cm.yaml": configMap("cm", "k: v\n")})
	f.kustomization("app", "./app", nil)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", env.KubeconfigPath, "-n", f.ns}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("wait", "--for=condition=Ready", "--timeout=60s", "kustomization/app", "gitrepository/fleet")
	out := run("get", "gitrepositories,kustomizations")
	checks := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^NAME\s+URL\s+AGE\s+READY\s+STATUS\s*$`),
		regexp.MustCompile(`(?m)^gitrepository\.source\.toolkit\.fluxcd\.io/fleet\s+http://127\.0\.0\.1:\d+/fleet\s+\S+\s+True\s+stored artifact for revision 'main@sha1:[0-9a-f]{40}'\s*$`),
		regexp.MustCompile(`(?m)^NAME\s+AGE\s+READY\s+STATUS\s*$`),
		regexp.MustCompile(`(?m)^kustomization\.kustomize\.toolkit\.fluxcd\.io/app\s+\S+\s+True\s+Applied revision: main@sha1:[0-9a-f]{40}\s*$`),
	}
	for _, re := range checks {
		if !re.MatchString(out) {
			t.Errorf("kubectl get output does not match %s:\n%s", re, out)
		}
	}
}
