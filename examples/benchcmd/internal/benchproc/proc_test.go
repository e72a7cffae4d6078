package benchproc

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
)

// childEnv makes the test binary act as a controller command: it touches
// the number of MiB the variable names, prints "ready" and waits for
// SIGTERM.
const childEnv = "BENCHPROC_TEST_CHILD_MIB"

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		var mib int
		fmt.Sscan(v, &mib)
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM)
		buf := make([]byte, mib<<20)
		for i := range buf {
			buf[i] = byte(i)
		}
		fmt.Println("ready")
		<-stop
		fmt.Fprintln(os.Stderr, len(buf))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestProcessPeakMemory(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(childEnv, "64")
	p, err := StartProcess(self)
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Memory()
	if err != nil {
		t.Fatal(err)
	}
	if m.Anon < 60<<10 {
		t.Errorf("current anonymous memory %d KiB, want at least the 64 MiB the child touched", m.Anon)
	}
	u, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakRSSKiB < 64<<10 || u.PeakAnonKiB < 60<<10 {
		t.Errorf("peak RSS %d KiB, anon %d KiB: want at least the 64 MiB the child touched", u.PeakRSSKiB, u.PeakAnonKiB)
	}
	if u.PeakRSSKiB > 512<<10 {
		t.Errorf("peak RSS %d KiB: not the child's own", u.PeakRSSKiB)
	}
	if _, err := p.Stop(); err == nil || !strings.Contains(err.Error(), "had exited") {
		t.Errorf("second Stop: %v, want an error saying it had exited", err)
	}
}

func TestProcessExitsBeforeReady(t *testing.T) {
	_, err := StartProcess("/bin/sh", "-c", "echo starting; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("err = %v, want one saying sh exited before it was ready with its status", err)
	}
}

func TestDiagFlags(t *testing.T) {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	args := DiagFlags(fs, "kustomize-controller")
	if err := fs.Parse([]string{"-memprofile", "m.out", "-requests"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(args(), " "); got != "-memprofile m.out -requests" {
		t.Errorf("args = %q, want %q", got, "-memprofile m.out -requests")
	}
	if u := fs.Lookup("cpuprofile").Usage; !strings.Contains(u, "kustomize-controller process") {
		t.Errorf("-cpuprofile usage %q does not name the process", u)
	}
}
