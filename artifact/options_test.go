package artifact_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
)

// Options outside their documented range are errors, never silently
// replaced by a default.
func TestInvalidOptionsAreErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  artifact.StoreOption
	}{
		{"negative retention records", artifact.WithRetention(-1, 0)},
		{"negative retention TTL", artifact.WithRetention(0, -time.Second)},
		{"nil clock", artifact.WithClock(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := artifact.NewStore(t.TempDir(), "", tc.opt); !errors.Is(err, artifact.ErrInvalidOption) {
				t.Errorf("NewStore: err = %v, want ErrInvalidOption", err)
			}
		})
	}
	if _, err := artifact.NewStore(t.TempDir(), "", artifact.WithRetention(0, 0), artifact.WithClock(time.Now)); err != nil {
		t.Errorf("zero retention (the defaults): %v", err)
	}

	a := artifact.Artifact{URL: "http://127.0.0.1:1/x.tar.gz", Digest: "sha256:" + strings.Repeat("0", 64)}
	for _, f := range []artifact.Fetcher{{Retries: -1}, {RetryWait: -time.Second}} {
		if _, err := f.Fetch(context.Background(), a, t.TempDir()); !errors.Is(err, artifact.ErrInvalidOption) {
			t.Errorf("Fetch with %+v: err = %v, want ErrInvalidOption", f, err)
		}
	}

	dir := t.TempDir()
	for _, opts := range []artifact.PackOptions{{Level: 10}, {Level: -2}, {Symlinks: 7}} {
		if _, err := artifact.Pack(context.Background(), io.Discard, dir, opts); !errors.Is(err, artifact.ErrInvalidOption) {
			t.Errorf("Pack with %+v: err = %v, want ErrInvalidOption", opts, err)
		}
	}
}

func TestObjectKey(t *testing.T) {
	good := artifact.ObjectKey{Kind: "GitRepository", Namespace: "flux-system", Name: "pod.info"}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(%v) = %v", good, err)
	}
	if got := good.String(); got != "GitRepository/flux-system/pod.info" {
		t.Errorf("String() = %q", got)
	}
	for _, bad := range []artifact.ObjectKey{
		{},
		{Kind: "Git-Repository", Namespace: "ns", Name: "a"},
		{Kind: "GitRepository", Namespace: "..", Name: "a"},
		{Kind: "GitRepository", Namespace: "ns", Name: "a/b"},
		{Kind: "GitRepository", Namespace: "ns"},
	} {
		if err := bad.Validate(); !errors.Is(err, artifact.ErrInvalidPath) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidPath", bad, err)
		}
	}
}
