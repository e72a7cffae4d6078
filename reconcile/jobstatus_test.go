package reconcile

import (
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func TestJobStatus(t *testing.T) {
	tests := []struct {
		name, doc string
		want      status.Status
		msg       string
	}{
		{"not started", `spec: {}`, status.InProgressStatus, "not started"},
		{"running", `status: {startTime: "2026-01-01T00:00:00Z", active: 1}`, status.InProgressStatus, "active: 1"},
		{"complete", `status: {startTime: x, succeeded: 1, conditions: [{type: Complete, status: "True"}]}`, status.CurrentStatus, "succeeded: 1/1"},
		{"failed", `status: {startTime: x, failed: 1, conditions: [{type: Failed, status: "True", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}]}`, status.FailedStatus, "BackoffLimitExceeded: Job has reached the specified backoff limit"},
		{"failure target", `status: {startTime: x, conditions: [{type: FailureTarget, status: "True", reason: BackoffLimitExceeded}]}`, status.FailedStatus, "BackoffLimitExceeded"},
		{"failed false", `status: {startTime: x, conditions: [{type: Failed, status: "False"}]}`, status.InProgressStatus, "in progress"},
		{"suspended", `spec: {suspend: true}`, status.CurrentStatus, "suspended"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n"+tc.doc), &obj); err != nil {
				t.Fatal(err)
			}
			res, err := jobStatus(&unstructured.Unstructured{Object: obj})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want || !strings.Contains(res.Message, tc.msg) {
				t.Errorf("got %s %q, want %s containing %q", res.Status, res.Message, tc.want, tc.msg)
			}
		})
	}
}
