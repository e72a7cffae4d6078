package oci_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// pushTags pushes one artifact to repo and tags it with n semver tags,
// "v1.0.0" to "v1.0.<n-1>".
func pushTags(t *testing.T, reg *ocitest.Registry, repo string, n int) []string {
	t.Helper()
	res := push(t, reg, repo, "v1.0.0", map[string]string{"a": "1"})
	tags := []string{"v1.0.0"}
	for i := 1; i < n; i++ {
		tag := fmt.Sprintf("v1.0.%d", i)
		if err := reg.Tag(ctx(t), repo, res.Digest, tag); err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tag)
	}
	return tags
}

// paginate makes the registry serve at most size tags a page, with a Link
// header to the next page, as the distribution spec describes, and without
// Content-Length, so that only reading a page tells its size.
func paginate(size int) ocitest.Option {
	return ocitest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/tags/list") {
				next.ServeHTTP(w, r)
				return
			}
			q := r.URL.Query()
			if n, err := strconv.Atoi(q.Get("n")); err != nil || n > size {
				q.Set("n", strconv.Itoa(size))
			}
			r.URL.RawQuery = q.Encode()
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var page struct {
				Tags []string `json:"tags"`
			}
			if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &page) == nil && len(page.Tags) == size {
				q.Set("last", page.Tags[len(page.Tags)-1])
				w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, q.Encode()))
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			w.(http.Flusher).Flush()
			_, _ = w.Write(rec.Body.Bytes())
		})
	})
}

func tagListRequests(reg *ocitest.Registry) int {
	n := 0
	for _, r := range reg.Requests() {
		if strings.HasSuffix(r.Path, "/tags/list") {
			n++
		}
	}
	return n
}

func checkTooManyTags(t *testing.T, err error, reg *ocitest.Registry) {
	t.Helper()
	if !errors.Is(err, oci.ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), reg.Host+"/app") {
		t.Errorf("error does not name the repository: %v", err)
	}
}

func TestListTagsCap(t *testing.T) {
	reg := ocitest.New(t)
	want := pushTags(t, reg, "app", 5)
	client := reg.Client()

	client.MaxTags = 5
	tags, err := client.ListTags(ctx(t), reg.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tags) != fmt.Sprint(want) {
		t.Errorf("tags %v, want %v", tags, want)
	}

	client.MaxTags = 4
	_, err = client.ListTags(ctx(t), reg.URL("app"))
	checkTooManyTags(t, err, reg)
	if !strings.Contains(err.Error(), "more than 4 tags") {
		t.Errorf("error does not give the cap: %v", err)
	}

	client.MaxTags = 0
	client.MaxTagListSize = 40
	_, err = client.ListTags(ctx(t), reg.URL("app"))
	checkTooManyTags(t, err, reg)
}

func TestListTagsCapPaginated(t *testing.T) {
	reg := ocitest.New(t, paginate(2))
	want := pushTags(t, reg, "app", 5)
	client := reg.Client()

	reg.ResetRequests()
	tags, err := client.ListTags(ctx(t), reg.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tags) != fmt.Sprint(want) {
		t.Errorf("tags %v, want %v", tags, want)
	}
	if n := tagListRequests(reg); n != 3 {
		t.Errorf("%d tag-list pages read, want 3", n)
	}

	client.MaxTags = 3
	reg.ResetRequests()
	_, err = client.ListTags(ctx(t), reg.URL("app"))
	checkTooManyTags(t, err, reg)
	if n := tagListRequests(reg); n != 2 {
		t.Errorf("%d tag-list pages read past the cap, want 2", n)
	}

	// Every page fits the byte cap; all of them together do not.
	page := len(`{"name":"app","tags":["v1.0.0","v1.0.1"]}`)
	client.MaxTags = 0
	client.MaxTagListSize = int64(2*page + 10)
	_, err = client.ListTags(ctx(t), reg.URL("app"))
	checkTooManyTags(t, err, reg)
	if !strings.Contains(err.Error(), "tag list is larger than the cap") {
		t.Errorf("error does not say the tag list is too large: %v", err)
	}
}

func TestFetchSemVerTagCap(t *testing.T) {
	reg := ocitest.New(t)
	pushTags(t, reg, "app", 5)
	client := reg.Client()
	client.MaxTags = 3
	repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{SemVer: "1.x"}, Client: client}
	_, err := repo.Fetch(ctx(t), t.TempDir(), "")
	checkTooManyTags(t, err, reg)

	client.MaxTags = 5
	repo.Client = client
	snap, err := repo.Fetch(ctx(t), t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(snap.Revision, "v1.0.4@") {
		t.Errorf("revision %q", snap.Revision)
	}
}

// Created reads an image's creation time from its config, by tag or
// digest; an artifact whose config has no time gives the zero time, and a
// missing tag is ErrRefNotFound.
func TestClientCreated(t *testing.T) {
	reg := ocitest.New(t)
	client := reg.Client()
	when := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	img, err := mutate.CreatedAt(empty.Image, v1.Time{Time: when})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(reg.Host+"/img:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	for _, r := range []string{"v1", digest.String()} {
		got, err := client.Created(ctx(t), reg.URL("img"), r)
		if err != nil || !got.Equal(when) {
			t.Errorf("Created(%s) = %v, %v; want %v", r, got, err, when)
		}
	}
	push(t, reg, "art", "v1", map[string]string{"a": "1"})
	if got, err := client.Created(ctx(t), reg.URL("art"), "v1"); err != nil || !got.IsZero() {
		t.Errorf("Created of an artifact without a time = %v, %v", got, err)
	}
	if _, err := client.Created(ctx(t), reg.URL("img"), "nope"); !errors.Is(err, source.ErrRefNotFound) {
		t.Errorf("Created of a missing tag = %v, want ErrRefNotFound", err)
	}
}
