package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gitopskit/gitopskit/internal/testbin"
)

// Options configures Start. The zero value starts the control plane without
// any CRDs.
type Options struct {
	// FluxCRDs installs Flux's CRDs from examples/config/crd.
	FluxCRDs bool
	// CRDDirs lists further directories of CRD manifests to install.
	CRDDirs []string
	// Scheme is used for the returned client; nil means client-go's scheme
	// plus apiextensions/v1.
	Scheme *runtime.Scheme
	// NoControllerManager leaves kube-controller-manager out.
	NoControllerManager bool
	// NoNodes leaves kube-scheduler, kwok and the fake nodes out: Pods
	// then stay Pending.
	NoNodes bool
	// Nodes is the number of fake nodes kwok manages; 0 means 3.
	Nodes int
}

// Env is a running control plane.
type Env struct {
	// Config reaches the API server as a cluster admin (system:masters).
	Config *rest.Config
	// Client is a controller-runtime client built from Config.
	Client client.Client
	// KubeconfigPath is a kubeconfig file for Config, for CLI tools.
	KubeconfigPath string
	// Dir is a scratch directory removed by Stop.
	Dir string
	// Nodes names the fake nodes kwok manages, all Ready when Start
	// returns; empty without kube-scheduler and kwok.
	Nodes []string

	env   *envtest.Environment
	procs []*process
	// api is the kube-apiserver StartAPIServer started, nil while the
	// first one runs; apiStopped is set between StopAPIServer and
	// StartAPIServer.
	api        *process
	apiStopped bool
	apiBin     string
}

// process is a child process started by Start.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Main runs the package's tests against a control plane started with opts,
// stores it in *env for the tests, stops it afterwards and exits with the
// tests' status. Call it from TestMain.
func Main(m *testing.M, opts Options, env **Env) {
	e, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stop:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// assetsDir returns the directory with etcd and kube-apiserver.
func assetsDir() (string, error) {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d, nil
	}
	return testbin.Dir()
}

// repoRoot returns the repository root (the parent of bin/).
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "examples", "config", "crd")); err == nil {
				return d, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", errors.New("cannot find the repository root with examples/config/crd")
		}
	}
}

// Start starts etcd, kube-apiserver and, unless disabled, kube-controller-
// manager, kube-scheduler and kwok with its fake nodes; installs the
// requested CRDs and returns the running environment once the nodes are
// Ready.
func Start(ctx context.Context, opts Options) (*Env, error) {
	scheme := opts.Scheme
	if scheme == nil {
		scheme = runtime.NewScheme()
		if err := clientgoscheme.AddToScheme(scheme); err != nil {
			return nil, err
		}
		if err := apiextensionsv1.AddToScheme(scheme); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "gitopskit-testenv-")
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: dir}
	existing := os.Getenv("USE_EXISTING_CLUSTER") == "true"
	te := &envtest.Environment{
		Scheme:                   scheme,
		ErrorIfCRDPathMissing:    true,
		UseExistingCluster:       &existing,
		ControlPlaneStartTimeout: 60 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	if opts.FluxCRDs {
		root, err := repoRoot()
		if err != nil {
			return nil, err
		}
		te.CRDDirectoryPaths = append(te.CRDDirectoryPaths, filepath.Join(root, "examples", "config", "crd"))
	}
	te.CRDDirectoryPaths = append(te.CRDDirectoryPaths, opts.CRDDirs...)

	assets := ""
	if !existing {
		assets, err = assetsDir()
		if err != nil {
			return nil, err
		}
		setpriv, _ := exec.LookPath("setpriv")
		for _, name := range []string{"etcd", "kube-apiserver"} {
			if _, err := os.Stat(filepath.Join(assets, name)); err != nil {
				return nil, fmt.Errorf("%s not found in %s: run `make controlplane` or set KUBEBUILDER_ASSETS", name, assets)
			}
		}
		// Each binary runs behind util-linux's setpriv, which arms the
		// parent-death signal, so nothing outlives the test process.
		wrap := func(name string) string {
			target := filepath.Join(assets, name)
			if setpriv == "" {
				return target
			}
			p := filepath.Join(dir, "wrap-"+name)
			script := fmt.Sprintf("#!/bin/sh\nexec %q --pdeathsig KILL -- %q \"$@\"\n", setpriv, target)
			if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
				return target
			}
			return p
		}
		te.ControlPlane.Etcd = &envtest.Etcd{Path: wrap("etcd")}
		// kube-apiserver's wrapper also records its process id and
		// arguments, so that StopAPIServer and StartAPIServer can stop it
		// and start it again as it was.
		apiPath, err := e.recordingWrapper(filepath.Join(assets, "kube-apiserver"), setpriv)
		if err != nil {
			return nil, err
		}
		api := &envtest.APIServer{Path: apiPath}
		// The default /24 service range fills up at 254 Services.
		api.Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
		te.ControlPlane.APIServer = api
	}
	e.env = te
	cfg, err := te.Start()
	if err != nil {
		_ = te.Stop()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	cfg.QPS, cfg.Burst = 500, 1000

	if existing {
		e.Config = cfg
	} else {
		user, err := te.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
		if err != nil {
			_ = e.Stop()
			return nil, err
		}
		e.Config = user.Config()
		e.Config.QPS, e.Config.Burst = 500, 1000
		kc, err := user.KubeConfig()
		if err != nil {
			_ = e.Stop()
			return nil, err
		}
		e.KubeconfigPath = filepath.Join(dir, "kubeconfig")
		if err := os.WriteFile(e.KubeconfigPath, kc, 0o600); err != nil {
			_ = e.Stop()
			return nil, err
		}
		if !opts.NoControllerManager {
			if err := e.startControllerManager(assets); err != nil {
				_ = e.Stop()
				return nil, err
			}
		}
		if !opts.NoNodes {
			if err := e.startNodes(ctx, assets, opts.Nodes); err != nil {
				_ = e.Stop()
				return nil, err
			}
		}
	}
	e.Client, err = client.New(e.Config, client.Options{Scheme: scheme})
	if err != nil {
		_ = e.Stop()
		return nil, err
	}
	if len(e.Nodes) > 0 {
		if err := e.waitNodesReady(ctx); err != nil {
			_ = e.Stop()
			return nil, err
		}
	}
	return e, nil
}

func (e *Env) startControllerManager(assets string) error {
	bin := filepath.Join(assets, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("KUBEBUILDER_ASSETS") != "" {
			return nil // external assets without a controller manager
		}
		return fmt.Errorf("kube-controller-manager not found in %s: run `make controlplane`", assets)
	}
	certDir := e.env.ControlPlane.APIServer.CertDir
	caFile := filepath.Join(e.Dir, "ca.crt")
	if err := os.WriteFile(caFile, e.Config.CAData, 0o600); err != nil {
		return err
	}
	return e.startProcess("kube-controller-manager", bin,
		"--kubeconfig="+e.KubeconfigPath,
		"--authentication-kubeconfig="+e.KubeconfigPath,
		"--authorization-kubeconfig="+e.KubeconfigPath,
		"--controllers=*,-nodeipam,-nodelifecycle,-route,-service,-cloud-node-lifecycle",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--secure-port=0",
		"--kube-api-qps=500",
		"--kube-api-burst=1000",
		"--concurrent-deployment-syncs=20",
		"--concurrent-replicaset-syncs=20",
		"--concurrent-gc-syncs=50",
		"--service-account-private-key-file="+filepath.Join(certDir, "sa-signer.key"),
		"--root-ca-file="+caFile,
	)
}

// startProcess starts bin with args as a child that the kernel kills when
// the test process dies, logging to <name>.log in Dir.
func (e *Env) startProcess(name, bin string, args ...string) error {
	logf, err := os.Create(filepath.Join(e.Dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	e.procs = append(e.procs, p)
	return nil
}

// Stop stops every process Start started and removes its scratch files.
func (e *Env) Stop() error {
	// The children first, newest first, all signalled at once.
	for i := len(e.procs) - 1; i >= 0; i-- {
		_ = syscall.Kill(-e.procs[i].cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.After(10 * time.Second)
	for i := len(e.procs) - 1; i >= 0; i-- {
		p := e.procs[i]
		select {
		case <-p.done:
		case <-deadline:
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	e.procs = nil
	var err error
	if e.env != nil {
		err = e.env.Stop()
	}
	_ = os.RemoveAll(e.Dir)
	return err
}
