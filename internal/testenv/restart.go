package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// apiStopTimeout bounds the graceful stop of kube-apiserver before it is
// killed (with clients watching, as kube-controller-manager's, it may
// otherwise take half a minute); apiStartTimeout bounds its restart until
// /readyz answers.
const (
	apiStopTimeout  = 5 * time.Second
	apiStartTimeout = 90 * time.Second
)

// recordingWrapper writes the script envtest runs as kube-apiserver: it
// records its process id and command line in Dir (skipping the --help run
// envtest makes to discover flags) and then becomes target, behind setpriv
// when setpriv is not "".
func (e *Env) recordingWrapper(target, setpriv string) (string, error) {
	e.apiBin = target
	p := filepath.Join(e.Dir, "wrap-kube-apiserver")
	run := fmt.Sprintf("exec %q \"$@\"", target)
	if setpriv != "" {
		run = fmt.Sprintf("exec %q --pdeathsig KILL -- %q \"$@\"", setpriv, target)
	}
	script := fmt.Sprintf(`#!/bin/sh
case "$1" in
--help) ;;
*) cat /proc/$$/cmdline > %q && echo $$ > %q ;;
esac
%s
`, e.apiFile("cmdline"), e.apiFile("pid"), run)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("writing the kube-apiserver wrapper: %w", err)
	}
	return p, nil
}

func (e *Env) apiFile(what string) string {
	return filepath.Join(e.Dir, "kube-apiserver."+what)
}

// StopAPIServer stops kube-apiserver, as a remote cluster that goes away:
// it is sent SIGTERM, and SIGKILL if it is still running 5 seconds later,
// and StopAPIServer returns once it has exited. Clients then get
// "connection refused" on its address. etcd keeps running with the
// cluster's data, the certificates and users stay valid, and
// kube-controller-manager, kube-scheduler and kwok (when running) keep
// retrying. StartAPIServer brings the API server back. StopAPIServer,
// StartAPIServer and Stop must not be called concurrently.
func (e *Env) StopAPIServer() error {
	if e.apiBin == "" {
		return errors.New("testenv: StopAPIServer needs a control plane started by testenv, not an existing cluster")
	}
	if e.apiStopped {
		return errors.New("testenv: kube-apiserver is already stopped")
	}
	if p := e.api; p != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(apiStopTimeout):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		for i, q := range e.procs {
			if q == p {
				e.procs = append(e.procs[:i], e.procs[i+1:]...)
				break
			}
		}
		e.api = nil
		e.apiStopped = true
		return nil
	}
	// The first kube-apiserver is envtest's child: signal it by the
	// process id its wrapper recorded; envtest reaps it.
	b, err := os.ReadFile(e.apiFile("pid"))
	if err != nil {
		return fmt.Errorf("testenv: reading kube-apiserver's process id: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("testenv: bad kube-apiserver process id %q", strings.TrimSpace(string(b)))
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("testenv: stopping kube-apiserver: %w", err)
	}
	deadline := time.Now().Add(apiStopTimeout)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(apiStopTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.apiStopped = true
	return nil
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, with the
// same arguments: the same address, certificates, users and etcd, so
// Config, Client and KubeconfigPath work again unchanged. It returns once
// the API server reports ready, or with an error after 90 seconds or when
// ctx ends. Its address stays free while it is stopped only as long as no
// other process takes the port, which the kernel does not hand out to
// listeners asking for any free port unless the ephemeral range is
// exhausted.
func (e *Env) StartAPIServer(ctx context.Context) error {
	if !e.apiStopped {
		return errors.New("testenv: kube-apiserver is running: call StopAPIServer first")
	}
	b, err := os.ReadFile(e.apiFile("cmdline"))
	if err != nil {
		return fmt.Errorf("testenv: reading kube-apiserver's arguments: %w", err)
	}
	// /bin/sh, the wrapper, then kube-apiserver's own arguments.
	argv := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
	if len(argv) < 2 {
		return errors.New("testenv: kube-apiserver's recorded command line is incomplete")
	}
	if err := e.startProcess("kube-apiserver-restarted", e.apiBin, argv[2:]...); err != nil {
		return err
	}
	p := e.procs[len(e.procs)-1]
	e.api, e.apiStopped = p, false

	cfg := rest.CopyConfig(e.Config)
	cfg.Timeout = 5 * time.Second
	cfg.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, apiStartTimeout)
	defer cancel()
	var last error
	for {
		_, last = rc.Get().AbsPath("/readyz").DoRaw(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(e.Dir, "kube-apiserver-restarted.log"))
			return fmt.Errorf("testenv: the restarted kube-apiserver exited: %s", tail(log, 2000))
		case <-ctx.Done():
			return fmt.Errorf("testenv: the restarted kube-apiserver is not ready: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
