package cluster

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v4/pkg/release"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kblabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Helm's release Secret format (storage driver "Secret"): one Secret per
// revision named sh.helm.release.v1.<name>.v<version>, of type
// helm.sh/release.v1, whose "release" key holds the base64 text of the
// gzip (best compression) of the release's JSON, labelled with the
// release's custom labels plus the system labels below.
const (
	releaseSecretType = "helm.sh/release.v1"
	releaseDataKey    = "release"
	releaseOwner      = "helm"
)

// systemLabels are the labels the storage driver owns; Get removes them
// from a release's labels, as Helm does.
var systemLabels = []string{"name", "owner", "status", "version", "createdAt", "modifiedAt"}

// gzipMagic starts a gzip stream; records written before Helm compressed
// them are plain JSON.
var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// maxPooledBuffer bounds the buffers kept for reuse, so that one huge
// release does not stay pinned in the pool.
const maxPooledBuffer = 4 << 20

// StorageBuffers keep the compression state and buffers the release
// storage reuses from one record to the next: a gzip writer at Helm's
// best compression holds about a megabyte of state, which Helm's own
// storage driver allocates anew for every record it writes. Share one
// among the Clients of a controller (Options.StorageBuffers), since a
// controller creates a Client per reconcile. The zero value is ready to
// use; it is safe for concurrent use.
type StorageBuffers struct {
	writers sync.Pool // *gzip.Writer
	readers sync.Pool // *gzip.Reader
	buffers sync.Pool // *bytes.Buffer
}

// buffer returns an empty buffer. A nil *StorageBuffers pools nothing: a
// Client of its own would hold a compressor of about a megabyte through
// every wait for the little reuse one reconcile offers, so without shared
// buffers each record allocates its compression state anew, as Helm's
// driver does.
func (c *StorageBuffers) buffer() *bytes.Buffer {
	if c == nil {
		return new(bytes.Buffer)
	}
	if b, ok := c.buffers.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (c *StorageBuffers) release(bs ...*bytes.Buffer) {
	if c == nil {
		return
	}
	for _, b := range bs {
		if b != nil && b.Cap() <= maxPooledBuffer {
			c.buffers.Put(b)
		}
	}
}

// encode returns the base64 text of the gzipped JSON of rls, byte for byte
// what Helm's driver stores.
func (c *StorageBuffers) encode(rls *releasev1.Release) ([]byte, error) {
	js := c.buffer()
	zs := c.buffer()
	defer c.release(js, zs)
	enc := json.NewEncoder(js)
	if err := enc.Encode(rls); err != nil {
		return nil, err
	}
	// Encode ends the document with a newline that json.Marshal, which
	// Helm uses, does not write.
	js.Truncate(js.Len() - 1)
	var zw *gzip.Writer
	ok := false
	if c != nil {
		zw, ok = c.writers.Get().(*gzip.Writer)
	}
	if ok {
		zw.Reset(zs)
	} else {
		var err error
		if zw, err = gzip.NewWriterLevel(zs, gzip.BestCompression); err != nil {
			return nil, err
		}
	}
	_, err := zw.Write(js.Bytes())
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if c != nil {
		zw.Reset(nil)
		c.writers.Put(zw)
	}
	if err != nil {
		return nil, err
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(zs.Len()))
	base64.StdEncoding.Encode(out, zs.Bytes())
	return out, nil
}

// decode reads a release record: base64 text of gzipped JSON, or of plain
// JSON for records older than Helm's compression.
func (c *StorageBuffers) decode(data []byte) (*releasev1.Release, error) {
	raw := c.buffer()
	defer c.release(raw)
	raw.Grow(base64.StdEncoding.DecodedLen(len(data)))
	b := raw.AvailableBuffer()[:base64.StdEncoding.DecodedLen(len(data))]
	n, err := base64.StdEncoding.Decode(b, data)
	if err != nil {
		return nil, err
	}
	b = b[:n]
	if len(b) > 3 && bytes.Equal(b[:3], gzipMagic) {
		js := c.buffer()
		defer c.release(js)
		if err := c.gunzip(js, b); err != nil {
			return nil, err
		}
		b = js.Bytes()
	}
	var rls releasev1.Release
	if err := json.Unmarshal(b, &rls); err != nil {
		return nil, err
	}
	return &rls, nil
}

func (c *StorageBuffers) gunzip(dst *bytes.Buffer, src []byte) error {
	br := bytes.NewReader(src)
	var zr *gzip.Reader
	ok := false
	if c != nil {
		zr, ok = c.readers.Get().(*gzip.Reader)
	}
	if ok {
		if err := zr.Reset(br); err != nil {
			c.readers.Put(zr)
			return err
		}
	} else {
		var err error
		if zr, err = gzip.NewReader(br); err != nil {
			return err
		}
	}
	if c != nil {
		defer c.readers.Put(zr)
	}
	if _, err := dst.ReadFrom(zr); err != nil {
		return err
	}
	return zr.Close()
}

// secrets is a Helm storage driver keeping releases in Secrets in Helm's
// own format (helm and Flux's helm-controller read and write the same
// records), reusing the compression state of its StorageBuffers.
type secrets struct {
	impl corev1client.SecretInterface
	log  *slog.Logger
	buf  *StorageBuffers
}

var _ driver.Driver = (*secrets)(nil)

// newSecrets returns a driver over impl using buffers b (nil: none
// reused) and logging to h (nil: nowhere).
func newSecrets(impl corev1client.SecretInterface, b *StorageBuffers, h slog.Handler) *secrets {
	if h == nil {
		h = slog.DiscardHandler
	}
	return &secrets{impl: impl, log: slog.New(h), buf: b}
}

// Name implements driver.Driver: Helm's name of its Secrets driver.
func (s *secrets) Name() string { return driver.SecretsDriverName }

// Get implements driver.Driver.
func (s *secrets) Get(key string) (release.Releaser, error) {
	obj, err := s.impl.Get(context.Background(), key, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, driver.ErrReleaseNotFound
		}
		return nil, fmt.Errorf("get: failed to get %q: %w", key, err)
	}
	r, err := s.buf.decode(obj.Data[releaseDataKey])
	if err != nil {
		return nil, fmt.Errorf("get: failed to decode data %q: %w", key, err)
	}
	r.Labels = withoutSystemLabels(obj.Labels)
	return r, nil
}

// List implements driver.Driver: the releases of the namespace that filter
// keeps; records that do not decode are logged and left out.
func (s *secrets) List(filter func(release.Releaser) bool) ([]release.Releaser, error) {
	sel := kblabels.Set{"owner": releaseOwner}.AsSelector()
	list, err := s.impl.List(context.Background(), metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list: failed to list: %w", err)
	}
	var out []release.Releaser
	for i := range list.Items {
		item := &list.Items[i]
		r, err := s.buf.decode(item.Data[releaseDataKey])
		if err != nil {
			s.log.Debug("list failed to decode release", slog.String("key", item.Name), slog.Any("error", err))
			continue
		}
		r.Labels = item.Labels
		if filter(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Query implements driver.Driver: the releases whose Secrets carry labels;
// driver.ErrReleaseNotFound when there is none.
func (s *secrets) Query(labels map[string]string) ([]release.Releaser, error) {
	set := kblabels.Set{}
	for k, v := range labels {
		if errs := validation.IsValidLabelValue(v); len(errs) != 0 {
			return nil, fmt.Errorf("invalid label value: %q: %s", v, strings.Join(errs, "; "))
		}
		set[k] = v
	}
	list, err := s.impl.List(context.Background(), metav1.ListOptions{LabelSelector: set.AsSelector().String()})
	if err != nil {
		return nil, fmt.Errorf("query: failed to query with labels: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, driver.ErrReleaseNotFound
	}
	var out []release.Releaser
	for i := range list.Items {
		item := &list.Items[i]
		r, err := s.buf.decode(item.Data[releaseDataKey])
		if err != nil {
			s.log.Debug("failed to decode release", slog.String("key", item.Name), slog.Any("error", err))
			continue
		}
		r.Labels = item.Labels
		out = append(out, r)
	}
	return out, nil
}

// Create implements driver.Driver; driver.ErrReleaseExists when the
// Secret exists.
func (s *secrets) Create(key string, rel release.Releaser) error {
	rls, err := v1Release(rel)
	if err != nil {
		return err
	}
	obj, err := s.object(key, rls, "createdAt")
	if err != nil {
		return fmt.Errorf("create: failed to encode release %q: %w", rls.Name, err)
	}
	if _, err := s.impl.Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return driver.ErrReleaseExists
		}
		return fmt.Errorf("create: failed to create: %w", err)
	}
	return nil
}

// Update implements driver.Driver: it replaces the Secret of key.
func (s *secrets) Update(key string, rel release.Releaser) error {
	rls, err := v1Release(rel)
	if err != nil {
		return err
	}
	obj, err := s.object(key, rls, "modifiedAt")
	if err != nil {
		return fmt.Errorf("update: failed to encode release %q: %w", rls.Name, err)
	}
	if _, err := s.impl.Update(context.Background(), obj, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update: failed to update: %w", err)
	}
	return nil
}

// Delete implements driver.Driver: it removes the Secret of key and
// returns the release it held; driver.ErrReleaseNotFound when absent.
func (s *secrets) Delete(key string) (release.Releaser, error) {
	r, err := s.Get(key)
	if err != nil {
		return nil, err
	}
	if err := s.impl.Delete(context.Background(), key, metav1.DeleteOptions{}); err != nil {
		return nil, err
	}
	return r, nil
}

// object is the Secret holding rls under key, stamped with the current
// Unix time in the label stamp (createdAt or modifiedAt), labelled as
// Helm labels it.
func (s *secrets) object(key string, rls *releasev1.Release, stamp string) (*corev1.Secret, error) {
	data, err := s.buf.encode(rls)
	if err != nil {
		return nil, err
	}
	// The order is Helm's: the stamp, then the release's labels (which
	// keep an earlier stamp of the same name), then the system labels.
	lbs := make(map[string]string, len(rls.Labels)+5)
	lbs[stamp] = strconv.FormatInt(time.Now().Unix(), 10)
	for k, v := range rls.Labels {
		lbs[k] = v
	}
	lbs["name"] = rls.Name
	lbs["owner"] = releaseOwner
	lbs["status"] = rls.Info.Status.String()
	lbs["version"] = strconv.Itoa(rls.Version)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: key, Labels: lbs},
		Type:       releaseSecretType,
		Data:       map[string][]byte{releaseDataKey: data},
	}, nil
}

func v1Release(rel release.Releaser) (*releasev1.Release, error) {
	switch r := rel.(type) {
	case *releasev1.Release:
		if r == nil {
			return nil, fmt.Errorf("no release")
		}
		return r, nil
	case releasev1.Release:
		return &r, nil
	default:
		return nil, fmt.Errorf("unsupported release type: %T", rel)
	}
}

func withoutSystemLabels(lbs map[string]string) map[string]string {
	out := make(map[string]string, len(lbs))
	for k, v := range lbs {
		if !slices.Contains(systemLabels, k) {
			out[k] = v
		}
	}
	return out
}
