package benchproc

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Module is the import path prefix of the controller commands.
const Module = "github.com/gitopskit/gitopskit/examples/benchcmd/"

// BuildCommands builds the named commands of examples/benchcmd (for
// example "kustomize-controller") with the given build tags ("" for none)
// into a new temporary directory, which it returns; the caller removes it.
// The working directory must be inside the module.
func BuildCommands(tags string, names ...string) (string, error) {
	dir, err := os.MkdirTemp("", "gitopskit-bench-bin-")
	if err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, ">> building %s\n", strings.Join(names, ", "))
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	for _, n := range names {
		args = append(args, Module+n)
	}
	cmd := exec.Command("go", args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("building %v: %w", names, err)
	}
	return dir, nil
}

// Process is a controller command running as a child process, watched
// for its memory.
type Process struct {
	name     string
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	peakAnon func() int64
	cancel   context.CancelFunc
}

// Usage is what a stopped Process used.
type Usage struct {
	// PeakRSSKiB is the peak resident set size (the kernel's maxrss).
	PeakRSSKiB int64
	// PeakAnonKiB is the sampled peak of the anonymous part (heap and
	// stacks; the rest is mostly the executable's own pages).
	PeakAnonKiB int64
}

// StartProcess runs bin with args, passes its stderr through, and returns
// once it prints "ready" on its stdout (as the controller commands do when
// their caches have synced), or fails when it exits or two minutes pass
// first.
func StartProcess(bin string, args ...string) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Process{name: filepath.Base(bin), cmd: cmd, exited: make(chan struct{}), cancel: cancel}
	status := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "status")
	p.peakAnon = peakAnon(ctx, 100*time.Millisecond, func() (Memory, error) { return readMemory(status) })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			if sc.Text() == "ready" && !signalled {
				close(ready)
				signalled = true
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-ready:
		return p, nil
	case <-p.exited:
		cancel()
		return nil, fmt.Errorf("%s exited before it was ready: %v", p.name, p.waitErr)
	case <-time.After(2 * time.Minute):
		p.Stop()
		return nil, fmt.Errorf("%s was not ready within 2 minutes", p.name)
	}
}

// Memory reads the process's current Memory.
func (p *Process) Memory() (Memory, error) {
	return readMemory(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "status"))
}

// Stop sends SIGTERM, waits up to 30 seconds (then kills) and returns what
// the process used; an error if it had exited before or failed.
func (p *Process) Stop() (Usage, error) {
	anon := p.peakAnon()
	p.cancel()
	select {
	case <-p.exited:
		return Usage{}, fmt.Errorf("%s had exited: %v", p.name, p.waitErr)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return Usage{}, fmt.Errorf("%s did not stop within 30 s of SIGTERM", p.name)
	}
	u := Usage{PeakAnonKiB: anon}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.PeakRSSKiB = ru.Maxrss
	}
	if p.waitErr != nil {
		return u, fmt.Errorf("%s: %w", p.name, p.waitErr)
	}
	if u.PeakRSSKiB == 0 {
		return u, errors.New(p.name + ": no peak RSS in its resource usage")
	}
	return u, nil
}

// DiagFlags registers -cpuprofile, -memprofile and -requests on fs, each
// meant for the named controller process of a child run, and returns a
// function giving the arguments to pass that process once fs is parsed.
func DiagFlags(fs *flag.FlagSet, process string) func() []string {
	cpu := fs.String("cpuprofile", "", "write a CPU profile of the "+process+" process of a -child run to this file")
	mem := fs.String("memprofile", "", "write an allocation profile of the "+process+" process of a -child run to this file")
	req := fs.Bool("requests", false, "print the "+process+" process's API requests by verb and resource of a -child run to stderr")
	return func() []string {
		var args []string
		if *cpu != "" {
			args = append(args, "-cpuprofile", *cpu)
		}
		if *mem != "" {
			args = append(args, "-memprofile", *mem)
		}
		if *req {
			args = append(args, "-requests")
		}
		return args
	}
}
