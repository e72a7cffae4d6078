package benchproc

import (
	"strings"
	"testing"
)

func TestParseAPIRequests(t *testing.T) {
	const text = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} 1000
apiserver_request_total{code="201",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} 24
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 7
apiserver_request_total{code="0",component="apiserver",dry_run="",group="",resource="pods",scope="cluster",subresource="",verb="WATCH",version="v1"} 3
apiserver_request_duration_seconds_count{verb="GET"} 99
`
	got, err := parseAPIRequests(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if got["APPLY"] != 1024 || got["POST"] != 7 || got["WATCH"] != 3 || len(got) != 3 {
		t.Errorf("parsed %v", got)
	}
	if w := got.Writes(); w != 1031 {
		t.Errorf("Writes = %d, want 1031", w)
	}
	before := APIRequests{"APPLY": 1000, "POST": 7, "WATCH": 3}
	d := got.Sub(before)
	if d["APPLY"] != 24 || len(d) != 1 {
		t.Errorf("Sub = %v, want APPLY 24 only", d)
	}
	if s := got.String(); s != "1031 requests (APPLY 1024, POST 7, WATCH 3)" {
		t.Errorf("String = %q", s)
	}
	if _, err := parseAPIRequests(strings.NewReader("apiserver_request_total{verb=\"GET\"} x\n")); err == nil {
		t.Error("a malformed value parsed without error")
	}
}
