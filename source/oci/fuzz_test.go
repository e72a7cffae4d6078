package oci_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
)

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"oci://ghcr.io/org/app", "oci://localhost:5000/a/b/c", "oci://127.0.0.1:1/x", "oci://[::1]:5000/x",
		"oci://host/app:v1", "oci://u:p@host/app", "oci://host", "oci:///app", "https://host/app",
		"oci://HOST/App", "oci://host/a//b", "oci://host:99999/a", "oci://host/a@sha256:00",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, u string, insecure bool) {
		repo, err := oci.ParseURL(u, insecure)
		if err != nil {
			if !errors.Is(err, source.ErrInvalid) {
				t.Fatalf("%q: error %v does not wrap ErrInvalid", u, err)
			}
			if strings.Contains(u, "@") && strings.Contains(err.Error(), u) {
				t.Fatalf("%q: error quotes an address with '@'", u)
			}
			return
		}
		if oci.URLPrefix+repo.Name() != u {
			t.Fatalf("%q parsed as %q", u, repo.Name())
		}
		// A parsed address parses again to the same repository.
		again, err := oci.ParseURL(oci.URLPrefix+repo.Name(), insecure)
		if err != nil || again.Name() != repo.Name() {
			t.Fatalf("%q: reparse %v %v", u, again, err)
		}
	})
}

func FuzzSelectSemVer(f *testing.F) {
	f.Add("1.x", "", "v1.0.0,v1.1.0-rc.1,latest")
	f.Add(">=1.0.0-0", "^v", "v1.0.0,1.0.0")
	f.Add("~1.2", "(", "1.2.3")
	f.Fuzz(func(t *testing.T, constraint, filter, tagList string) {
		tags := strings.Split(tagList, ",")
		tag, ok, err := oci.SelectSemVer(constraint, filter, tags)
		if err != nil {
			if !errors.Is(err, source.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if ok {
			found := false
			for _, s := range tags {
				found = found || s == tag
			}
			if !found {
				t.Fatalf("selected %q, not among the tags", tag)
			}
		}
	})
}
