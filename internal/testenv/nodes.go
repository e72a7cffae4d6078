package testenv

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FailAnnotation on a Pod, or on the pod template of a Job, Deployment or
// any other workload, makes its containers fail instead of succeeding; the
// annotation's value becomes the containers' termination message. A Pod with
// restartPolicy Never or OnFailure ends in phase Failed with exit code 1
// (so a Job with backoffLimit 0 fails at once, with reason
// BackoffLimitExceeded); a Pod with restartPolicy Always stays Running but
// never Ready, its containers in CrashLoopBackOff (kstatus: Failed).
const FailAnnotation = "testenv.gitopskit.io/fail"

// RunForAnnotation on a Pod with restartPolicy Never or OnFailure (a Job's
// Pod, a Helm hook or test) sets how long its containers run before they
// exit, as a Go duration ("30s"); without it they run for one second.
const RunForAnnotation = "testenv.gitopskit.io/run-for"

// NodeAnnotation marks the fake nodes; kwok manages the nodes that carry it
// with the value "fake" and no others.
const NodeAnnotation = "kwok.x-k8s.io/node"

// stages are kwok's Stage documents: how fake nodes and their Pods move
// through their lifecycle.
//
//go:embed stages.yaml
var stages []byte

// startNodes starts kube-scheduler and kwok and creates n fake nodes (3
// when n is 0). Without either binary under external assets it starts
// nothing.
func (e *Env) startNodes(ctx context.Context, assets string, n int) error {
	for _, name := range []string{"kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(assets, name)); err != nil {
			if os.Getenv("KUBEBUILDER_ASSETS") != "" {
				return nil // external assets without a scheduler or kwok
			}
			return fmt.Errorf("%s not found in %s: run `make controlplane`", name, assets)
		}
	}
	schedConf := filepath.Join(e.Dir, "kube-scheduler.yaml")
	conf := fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: 500
  burst: 1000
leaderElection:
  leaderElect: false
`, e.KubeconfigPath)
	if err := os.WriteFile(schedConf, []byte(conf), 0o600); err != nil {
		return err
	}
	if err := e.startProcess("kube-scheduler", filepath.Join(assets, "kube-scheduler"),
		"--config="+schedConf,
		"--secure-port=0",
	); err != nil {
		return err
	}
	stagesFile := filepath.Join(e.Dir, "kwok-stages.yaml")
	if err := os.WriteFile(stagesFile, stages, 0o600); err != nil {
		return err
	}
	if err := e.startProcess("kwok", filepath.Join(assets, "kwok"),
		"--kubeconfig="+e.KubeconfigPath,
		"--config="+stagesFile,
		"--manage-nodes-with-annotation-selector="+NodeAnnotation+"=fake",
		"--cidr=10.244.0.0/16",
		// Nothing listens there: no kubelet API (logs, exec) is served.
		"--node-ip=127.0.0.1",
		// Nothing watches node leases: kube-controller-manager runs
		// without the node lifecycle controller.
		"--node-lease-duration-seconds=0",
	); err != nil {
		return err
	}

	if n <= 0 {
		n = 3
	}
	c, err := client.New(e.Config, client.Options{})
	if err != nil {
		return err
	}
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{NodeAnnotation: "fake"},
			Labels: map[string]string{
				corev1.LabelHostname: name,
				corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64",
				"type": "kwok",
			},
		}}
		if err := c.Create(ctx, node); err != nil {
			return fmt.Errorf("creating fake node %s: %w", name, err)
		}
		// The API server taints a new node not-ready; the node lifecycle
		// controller, which would lift the taint, is not running.
		untaint := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"taints":null}}`))
		if err := c.Patch(ctx, node, untaint); err != nil {
			return fmt.Errorf("untainting fake node %s: %w", name, err)
		}
		e.Nodes = append(e.Nodes, name)
	}
	return nil
}

// waitNodesReady waits until kwok reports every fake node Ready.
func (e *Env) waitNodesReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, name := range e.Nodes {
			var node corev1.Node
			if err := e.Client.Get(ctx, client.ObjectKey{Name: name}, &node); err != nil {
				return false, err
			}
			ready := false
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready = true
				}
			}
			if !ready {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the fake nodes to become Ready: %w; kwok's log ends with:\n%s", err, e.logTail("kwok", 4096))
	}
	return nil
}

// logTail returns the last max bytes of the named process's log.
func (e *Env) logTail(name string, max int64) string {
	f, err := os.Open(filepath.Join(e.Dir, name+".log"))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
