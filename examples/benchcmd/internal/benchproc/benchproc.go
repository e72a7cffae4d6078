package benchproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PeakRSS returns the peak resident set size of this process in KiB
// (VmHWM of /proc/self/status).
func PeakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, errors.New("VmHWM not found in /proc/self/status")
}

// Memory is the resident memory of this process, in KiB, from
// /proc/self/status: Peak is VmHWM, the peak of the whole resident set;
// Anon and File are the current anonymous (heap, stacks) and file-backed
// (mostly the executable's own pages) parts.
type Memory struct {
	Peak, Anon, File int64
}

// ReadMemory reads this process's Memory.
func ReadMemory() (Memory, error) { return readMemory("/proc/self/status") }

// readMemory reads the Memory in a /proc/<pid>/status file.
func readMemory(status string) (Memory, error) {
	b, err := os.ReadFile(status)
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		var dst *int64
		switch f[0] {
		case "VmHWM:":
			dst = &m.Peak
		case "RssAnon:":
			dst = &m.Anon
		case "RssFile:":
			dst = &m.File
		default:
			continue
		}
		if *dst, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return Memory{}, err
		}
	}
	if m.Peak == 0 {
		return Memory{}, errors.New("VmHWM not found in " + status)
	}
	return m, nil
}

// PeakAnon samples the anonymous resident memory of this process every
// interval until ctx ends, and returns a function reporting the largest
// sample so far in KiB (the kernel keeps a peak only for the whole
// resident set).
func PeakAnon(ctx context.Context, interval time.Duration) func() int64 {
	return peakAnon(ctx, interval, ReadMemory)
}

// peakAnon is PeakAnon for the process whose Memory read returns.
func peakAnon(ctx context.Context, interval time.Duration, read func() (Memory, error)) func() int64 {
	var mu sync.Mutex
	var peak int64
	sample := func() {
		if m, err := read(); err == nil {
			mu.Lock()
			peak = max(peak, m.Anon)
			mu.Unlock()
		}
	}
	sample()
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() int64 {
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// WaitFor calls cond every half second until it reports true, and fails
// with the deadline and cond's last error when timeout passes first.
func WaitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// WaitAllReady calls count, which returns how many of the n objects are
// Ready, as WaitFor does until all are, and prints the progress to stderr
// every ten seconds (the time counted from start).
func WaitAllReady(ctx context.Context, timeout time.Duration, n int, start time.Time, count func() (int, error)) error {
	last := time.Now()
	return WaitFor(ctx, timeout, func() (bool, error) {
		ready, err := count()
		if err != nil {
			return false, err
		}
		if time.Since(last) > 10*time.Second {
			fmt.Fprintf(os.Stderr, "   %d/%d Ready after %s\n", ready, n, time.Since(start).Round(time.Second))
			last = time.Now()
		}
		return ready == n, nil
	})
}

// RunChild runs this program again with args, its stderr passed through,
// and decodes the JSON it prints on stdout into out.
func RunChild(out any, args ...string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %s", err, b)
	}
	return nil
}
