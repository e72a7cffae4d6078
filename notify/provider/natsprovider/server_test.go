package natsprovider_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/internal/testbin"
)

// listenRe matches the line nats-server logs once it accepts clients.
var listenRe = regexp.MustCompile(`Listening for client connections on (\S+:\d+)`)

// startServer starts bin/nats-server on a free loopback port with the
// given extra arguments (or a configuration file body, when conf is not
// empty) and returns its host:port. The server stops with the test.
func startServer(t *testing.T, conf string, args ...string) string {
	t.Helper()
	bin := testbin.Tool(t, "nats-server")
	argv := []string{"-a", "127.0.0.1", "-p", "-1"}
	if conf != "" {
		p := filepath.Join(t.TempDir(), "nats.conf")
		if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "-c", p)
	}
	argv = append(argv, args...)
	cmd := exec.Command(bin, argv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		found := false
		var log []string
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addr <- m[1]
			}
			if !found {
				log = append(log, sc.Text())
			}
		}
		if !found {
			addr <- "exited: " + strings.Join(log, "\n")
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case a := <-addr:
		if strings.HasPrefix(a, "exited: ") {
			t.Fatalf("nats-server did not start: %s", a)
		}
		return a
	case <-ctx.Done():
		t.Fatal("nats-server did not report its port within 30s")
	}
	return ""
}
