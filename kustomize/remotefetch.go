package kustomize

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gitopskit/gitopskit/source"
)

// DefaultMaxRemoteFileSize bounds one remote file when
// Options.MaxRemoteFileSize is 0.
const DefaultMaxRemoteFileSize = 10 << 20

// remoteFileFields are the kustomization fields whose entries kustomize only
// ever loads as files (never clones as git repositories).
var remoteFileFields = map[string]bool{
	"configMapGenerator": true, "secretGenerator": true, "patchesStrategicMerge": true,
	"patches": true, "patchesJson6902": true, "replacements": true, "openapi": true,
	"configurations": true, "crds": true,
	// builtin plugin configurations
	"files": true, "envs": true, "env": true, "path": true,
}

// remoteFiles fetches, when remote bases are allowed, every remote file a
// kustomization refers to over HTTP(S) itself — with ctx, a size cap and
// the caller's client — and points the kustomization at the local copy, so
// kustomize's own unbounded download never runs. Git bases are left to
// kustomize.
type remoteFiles struct {
	ctx    context.Context
	fsys   *confinedFS
	client *http.Client
	max    int64
	dir    string            // overlay directory of the downloads
	done   map[string]string // URL → local path
}

func newRemoteFiles(ctx context.Context, fsys *confinedFS, opts Options) *remoteFiles {
	max := opts.MaxRemoteFileSize
	if max <= 0 {
		max = DefaultMaxRemoteFileSize
	}
	c := opts.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: time.Minute}
	}
	return &remoteFiles{ctx: ctx, fsys: fsys, client: c, max: max,
		dir: filepath.Join(fsys.root, ".gitopskit-remote"), done: map[string]string{}}
}

// rewrite returns data with every remote file reference replaced by its
// downloaded copy; data is returned unchanged when there is none.
func (r *remoteFiles) rewrite(abs string, data []byte) ([]byte, error) {
	kust := isKustomizationName(filepath.Base(abs))
	if !kust && !bytes.Contains(data, []byte("builtin")) {
		return data, nil
	}
	if !bytes.Contains(data, []byte("://")) {
		return data, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	changed := false
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if err == io.EOF {
				break
			}
			return data, nil // kustomize reports the syntax error itself
		}
		if kust || isBuiltinConfig(&doc) {
			c, _, err := walkValues(&doc, "", "", 0, r.visit)
			if err != nil {
				return nil, &PathError{Path: r.fsys.rel(abs), Err: err}
			}
			changed = changed || c
		}
		docs = append(docs, &doc)
	}
	if !changed {
		return data, nil
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("kustomize: re-encoding %s: %w", r.fsys.rel(abs), err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// visit replaces a remote file reference by its downloaded copy; top is
// the top-level field the value sits under.
func (r *remoteFiles) visit(n *yaml.Node, field, top string) (changed, stop bool, err error) {
	key, ref, hasKey := strings.Cut(n.Value, "=")
	if !hasKey {
		key, ref = "", n.Value
	}
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false, false, nil
	}
	ext := strings.ToLower(path.Ext(u.Path))
	if !remoteFileFields[top] && ext != ".yaml" && ext != ".yml" && ext != ".json" {
		return false, false, nil // possibly a git base: kustomize clones those
	}
	local, err := r.fetch(ref, field)
	if err != nil {
		return false, true, err
	}
	if hasKey {
		local = key + "=" + local
	}
	n.Value, n.Style, n.Tag = local, 0, "!!str"
	return true, false, nil
}

// fetch downloads ref once per build into the overlay, under its own base
// name (generators use it as the data key).
func (r *remoteFiles) fetch(ref, field string) (string, error) {
	if p, ok := r.done[ref]; ok {
		return p, nil
	}
	safe := source.Redact(ref)
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, ref, nil)
	if err != nil {
		return "", fmt.Errorf("%s: remote file %s: %w", field, safe, err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text holds the whole URL
		}
		return "", fmt.Errorf("%s: remote file %s: %s", field, safe, source.Redact(err.Error()))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: remote file %s: HTTP status %d", field, safe, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.max+1))
	if err != nil {
		return "", fmt.Errorf("%s: remote file %s: %s", field, safe, source.Redact(err.Error()))
	}
	if int64(len(body)) > r.max {
		return "", fmt.Errorf("%s: remote file %s: %w: larger than %d bytes (Options.MaxRemoteFileSize)", field, safe, ErrBuildTooLarge, r.max)
	}
	u, _ := url.Parse(ref)
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" || strings.ContainsAny(name, `\`) {
		name = "file"
	}
	sum := sha256.Sum256([]byte(ref))
	local := filepath.Join(r.dir, hex.EncodeToString(sum[:8]), name)
	if err := r.fsys.put(local, body); err != nil {
		return "", err
	}
	r.done[ref] = local
	return local, nil
}
