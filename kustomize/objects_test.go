package kustomize_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/kustomize"
)

// decodeStream decodes a YAML stream the way the Kubernetes API machinery
// does (YAML to JSON, then JSON with int64/float64 numbers).
func decodeStream(t *testing.T, stream []byte) []map[string]interface{} {
	t.Helper()
	var out []map[string]interface{}
	for _, doc := range bytes.Split(stream, []byte("\n---\n")) {
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]interface{}
		if err := utiljson.Unmarshal(js, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func deepCopy(u *unstructured.Unstructured) (c *unstructured.Unstructured, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("DeepCopy panicked: %v", r)
		}
	}()
	return u.DeepCopy(), nil
}

// TestObjectsAreJSONCompatible checks that every object Build returns can
// be deep-copied and holds exactly what a Kubernetes client decoding the
// CLI's output would hold, while the YAML stream and its digest stay those
// of the CLI.
func TestObjectsAreJSONCompatible(t *testing.T) {
	corpus, _ := filepath.Abs("testdata/corpus")
	for _, path := range []string{"base", "overlays/prod", "generators", "plain", "plain/withkus", "numbers"} {
		t.Run(path, func(t *testing.T) {
			res, err := kustomize.Build(context.Background(), corpus, path, kustomize.Options{})
			if err != nil {
				t.Fatal(err)
			}
			// "plain" has no kustomization: the CLI cannot build it, so its
			// own YAML stream is the reference there.
			want := res.YAML()
			if path != "plain" {
				want = cliBuild(t, filepath.Join(corpus, path))
			}
			if diff := cmp.Diff(string(want), string(res.YAML())); diff != "" {
				t.Errorf("YAML differs from kustomize CLI (-cli +ours):\n%s", diff)
			}
			sum := sha256.Sum256(want)
			if wantDigest := "sha256:" + hex.EncodeToString(sum[:]); res.Digest != wantDigest {
				t.Errorf("digest %s, want %s", res.Digest, wantDigest)
			}
			decoded := decodeStream(t, want)
			if len(decoded) != len(res.Objects) {
				t.Fatalf("got %d objects, the stream has %d", len(res.Objects), len(decoded))
			}
			for i, obj := range res.Objects {
				c, err := deepCopy(obj)
				if err != nil {
					t.Fatalf("%s/%s: %v", obj.GetKind(), obj.GetName(), err)
				}
				if diff := cmp.Diff(decoded[i], c.Object); diff != "" {
					t.Errorf("%s/%s differs from the decoded stream (-decoded +ours):\n%s", obj.GetKind(), obj.GetName(), diff)
				}
			}
		})
	}
}

func TestObjectNumberTypes(t *testing.T) {
	corpus, _ := filepath.Abs("testdata/corpus")
	res, err := kustomize.Build(context.Background(), corpus, "numbers", kustomize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]*unstructured.Unstructured{}
	for _, o := range res.Objects {
		byKind[o.GetKind()] = o
	}
	tests := []struct {
		kind string
		path []string
		want interface{}
	}{
		{"Deployment", []string{"spec", "replicas"}, int64(2)},
		{"Deployment", []string{"spec", "progressDeadlineSeconds"}, int64(600)},
		{"Deployment", []string{"spec", "revisionHistoryLimit"}, int64(0)},
		{"Deployment", []string{"spec", "template", "spec", "terminationGracePeriodSeconds"}, int64(30)},
		{"Deployment", []string{"spec", "template", "spec", "containers"}, []interface{}{map[string]interface{}{
			"name": "app", "image": "nginx:1.27",
			"ports":     []interface{}{map[string]interface{}{"containerPort": int64(8080)}},
			"resources": map[string]interface{}{"limits": map[string]interface{}{"cpu": 0.5, "memory": "128Mi"}},
		}}},
		{"Widget", []string{"spec", "zero"}, int64(0)},
		{"Widget", []string{"spec", "negative"}, int64(-42)},
		{"Widget", []string{"spec", "hex"}, int64(31)},
		{"Widget", []string{"spec", "octal"}, int64(15)},
		{"Widget", []string{"spec", "maxInt64"}, int64(math.MaxInt64)},
		{"Widget", []string{"spec", "minInt64"}, int64(math.MinInt64)},
		{"Widget", []string{"spec", "aboveInt64"}, float64(math.MaxUint64)},
		{"Widget", []string{"spec", "half"}, 0.5},
		{"Widget", []string{"spec", "whole"}, int64(2)},
		{"Widget", []string{"spec", "exponent"}, int64(1000)},
		{"Widget", []string{"spec", "yes"}, true},
		{"Widget", []string{"spec", "nothing"}, nil},
		{"Widget", []string{"spec", "list"}, []interface{}{int64(1), 2.5, "3", []interface{}{int64(4), map[string]interface{}{"five": int64(5)}}}},
	}
	for _, tt := range tests {
		obj := byKind[tt.kind]
		if obj == nil {
			t.Fatalf("no %s in the output", tt.kind)
		}
		got, found, err := unstructured.NestedFieldNoCopy(obj.Object, tt.path...)
		if err != nil || !found {
			t.Errorf("%s %v: found=%v err=%v", tt.kind, tt.path, found, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s %v (-want +got):\n%s", tt.kind, tt.path, diff)
		}
	}
	if n, found, err := unstructured.NestedInt64(byKind["Deployment"].Object, "spec", "replicas"); err != nil || !found || n != 2 {
		t.Errorf("NestedInt64(spec.replicas) = %d, %v, %v", n, found, err)
	}
}
