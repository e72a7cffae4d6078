package benchproc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
)

// APIRequests counts the requests an API server has served, by verb
// (GET, LIST, WATCH, POST, PUT, PATCH, APPLY for server-side apply,
// DELETE...), from its apiserver_request_total metric. Subtracting two
// reads gives what one phase of a benchmark cost the API server, whoever
// sent the requests (the controllers, kubectl, kube-controller-manager).
type APIRequests map[string]float64

// ReadAPIRequests reads the API server's counts through cfg.
func ReadAPIRequests(ctx context.Context, cfg *rest.Config) (APIRequests, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("API server metrics: %s", resp.Status)
	}
	return parseAPIRequests(resp.Body)
}

// parseAPIRequests sums the apiserver_request_total samples of a
// Prometheus text exposition by their verb label.
func parseAPIRequests(r io.Reader) (APIRequests, error) {
	out := APIRequests{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	prefix := []byte("apiserver_request_total{")
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, prefix) {
			continue
		}
		end := bytes.LastIndexByte(line, '}')
		if end < 0 {
			return nil, fmt.Errorf("API server metrics: malformed line %q", line)
		}
		verb := label(string(line[len(prefix):end]), "verb")
		v, err := strconv.ParseFloat(strings.TrimSpace(string(line[end+1:])), 64)
		if err != nil || verb == "" {
			return nil, fmt.Errorf("API server metrics: malformed line %q", line)
		}
		out[verb] += v
	}
	return out, sc.Err()
}

// label returns the value of name in a Prometheus label list.
func label(labels, name string) string {
	key := name + `="`
	for _, l := range strings.Split(labels, `",`) {
		if v, ok := strings.CutPrefix(l, key); ok {
			return strings.TrimSuffix(v, `"`)
		}
	}
	return ""
}

// Sub returns a minus b, per verb.
func (a APIRequests) Sub(b APIRequests) APIRequests {
	out := APIRequests{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// Writes is the number of requests that change objects: POST, PUT,
// PATCH, APPLY, DELETE and DELETECOLLECTION.
func (a APIRequests) Writes() int {
	n := 0.0
	for _, v := range []string{"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"} {
		n += a[v]
	}
	return int(n)
}

// String lists the counts, largest first, after their total without
// watches: "12000 requests (APPLY 4000, PUT 3000, ...)".
func (a APIRequests) String() string {
	verbs := make([]string, 0, len(a))
	total := 0.0
	for k, v := range a {
		verbs = append(verbs, k)
		if k != "WATCH" {
			total += v
		}
	}
	sort.Slice(verbs, func(i, j int) bool {
		if a[verbs[i]] != a[verbs[j]] {
			return a[verbs[i]] > a[verbs[j]]
		}
		return verbs[i] < verbs[j]
	})
	parts := make([]string, len(verbs))
	for i, k := range verbs {
		parts[i] = fmt.Sprintf("%s %d", k, int(a[k]))
	}
	return fmt.Sprintf("%d requests (%s)", int(total), strings.Join(parts, ", "))
}
