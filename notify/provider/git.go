package provider

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/source"
)

// celCostLimit bounds one commit-status expression evaluation.
const celCostLimit = 1_000_000

func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// gitRepo is a repository address split as Flux splits it: the scheme and
// host (SSH addresses become https) and the path without ".git".
type gitRepo struct {
	host string // scheme://host[:port]
	id   string // owner/repo, group/subgroup/project, org/project/_git/repo
}

// parseGitAddress accepts http(s) and ssh URLs and SCP-like addresses
// (git@host:owner/repo).
func parseGitAddress(raw string) (gitRepo, error) {
	if raw == "" {
		return gitRepo{}, configError("Address", "is required (the repository URL)")
	}
	s := raw
	if !strings.Contains(s, "://") {
		// SCP-like: [user@]host:path
		at := strings.LastIndexByte(s, '@')
		colon := strings.IndexByte(s[at+1:], ':')
		if colon < 0 {
			return gitRepo{}, configError("Address", "is not a repository URL")
		}
		s = "ssh://" + s[:at+1+colon] + "/" + strings.TrimPrefix(s[at+2+colon:], "/")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return gitRepo{}, configError("Address", "is not a repository URL")
	}
	scheme := u.Scheme
	switch scheme {
	case "ssh", "git+ssh":
		scheme = "https"
		if h := u.Hostname(); h != "" {
			u.Host = h // the SSH port is not the API's
		}
	case "http", "https":
	default:
		return gitRepo{}, configError("Address", "has unsupported scheme %q", u.Scheme)
	}
	id := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if id == "" {
		return gitRepo{}, configError("Address", "has no repository path")
	}
	return gitRepo{host: scheme + "://" + u.Host, id: id}, nil
}

// ownerRepo splits an id of exactly two segments.
func (g gitRepo) ownerRepo() (string, string, error) {
	parts := strings.Split(g.id, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", configError("Address", "must name a repository as <owner>/<repo>")
	}
	return parts[0], parts[1], nil
}

// githubAPI returns the REST base URL for a GitHub host: api.github.com for
// github.com, <host>/api/v3 for GitHub Enterprise Server.
func githubAPI(host string) string {
	if host == "https://github.com" || host == "http://github.com" {
		return "https://api.github.com"
	}
	return host + "/api/v3"
}

// githubHeaders are the headers of every GitHub REST call.
func githubHeaders(token string) map[string]string {
	return map[string]string{
		"Authorization":        "Bearer " + token,
		"Accept":               "application/vnd.github+json",
		"X-GitHub-Api-Version": "2022-11-28",
	}
}

// bearerHeaders are the headers of a GitHub REST call authenticated by
// auth.
func bearerHeaders(ctx context.Context, auth bearerSource) (map[string]string, error) {
	tok, err := auth.bearer(ctx)
	if err != nil {
		return nil, err
	}
	return githubHeaders(tok), nil
}

// gitToken is the token of Git providers: Token, else Password (Flux's
// fallback).
func gitToken(cfg *Config) string {
	if cfg.Token != "" {
		return cfg.Token
	}
	return cfg.Password
}

// githubDispatch sends a repository_dispatch event carrying the Flux event.
type githubDispatch struct {
	c           *client
	api         string
	owner, repo string
	auth        bearerSource
}

func newGitHubDispatch(c *client, cfg *Config) (Sender, error) {
	repo, err := parseGitAddress(cfg.Address)
	if err != nil {
		return nil, err
	}
	owner, name, err := repo.ownerRepo()
	if err != nil {
		return nil, err
	}
	api := githubAPI(repo.host)
	auth, _, err := githubAuth(c, cfg, api)
	if err != nil {
		return nil, err
	}
	return &githubDispatch{c: c, api: api, owner: owner, repo: name, auth: auth}, nil
}

func (g *githubDispatch) Post(ctx context.Context, e notify.Event) error {
	o := e.InvolvedObject
	payload := map[string]any{
		"event_type":     fmt.Sprintf("%s/%s.%s", o.Kind, o.Name, o.Namespace),
		"client_payload": e,
	}
	u := fmt.Sprintf("%s/repos/%s/%s/dispatches", g.api, url.PathEscape(g.owner), url.PathEscape(g.repo))
	h, err := bearerHeaders(ctx, g.auth)
	if err != nil {
		return err
	}
	_, err = g.c.jsonRequest(ctx, http.MethodPost, u, payload, h, nil)
	return err
}

// DefaultCommitStatus is the commit-status key Flux uses when a Provider
// has no commitStatusExpr: "<kind>/<name>/<first segment of the provider
// UID>", lowercased, unique per cluster.
func DefaultCommitStatus(providerUID string, e notify.Event) string {
	uid, _, _ := strings.Cut(providerUID, "-")
	return strings.ToLower(e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name + "/" + uid)
}

// CommitStatusExpr is a compiled CEL expression that computes a
// commit-status key from the variables event, provider and alert.
type CommitStatusExpr struct {
	src string
	prg cel.Program
}

// CompileCommitStatusExpr compiles a CEL expression that must evaluate to a
// string. CEL's string extensions and optional types are available.
func CompileCommitStatusExpr(src string) (_ *CommitStatusExpr, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("CEL expression %q: compiler failure: %v", src, r)
		}
	}()
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("CEL expression is empty")
	}
	env, err := cel.NewEnv(cel.OptionalTypes(), ext.Strings(),
		cel.Variable("event", cel.DynType), cel.Variable("provider", cel.DynType), cel.Variable("alert", cel.DynType))
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", src, iss.Err())
	}
	if t := ast.OutputType(); t != cel.StringType && t != cel.DynType {
		return nil, fmt.Errorf("CEL expression %q: must evaluate to a string, not %s", src, t)
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", src, err)
	}
	return &CommitStatusExpr{src: src, prg: prg}, nil
}

// String returns the source text.
func (x *CommitStatusExpr) String() string { return x.src }

// Eval computes the key for e. The event is seen with its JSON field names
// (event.involvedObject.name, event.metadata, …); nil provider and alert
// are empty maps.
func (x *CommitStatusExpr) Eval(ctx context.Context, e notify.Event, provider, alert map[string]any) (_ string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("CEL expression %q: evaluation failure: %v", x.src, r)
		}
	}()
	var ev map[string]any
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return "", err
	}
	if provider == nil {
		provider = map[string]any{}
	}
	if alert == nil {
		alert = map[string]any{}
	}
	out, _, err := x.prg.ContextEval(ctx, map[string]any{"event": ev, "provider": provider, "alert": alert})
	if err != nil {
		return "", fmt.Errorf("CEL expression %q: %w", x.src, err)
	}
	s, ok := out.(types.String)
	if !ok {
		return "", fmt.Errorf("CEL expression %q: result is %s, not a string", x.src, out.Type())
	}
	if s == "" {
		return "", fmt.Errorf("CEL expression %q: result is empty", x.src)
	}
	return string(s), nil
}

// eventCommit returns the commit hash of e's revision, looked up as Flux
// does: metadata "commit", then "originRevision", then "revision".
func eventCommit(e *notify.Event) (string, error) {
	var rev string
	found := false
	for _, k := range []string{MetaCommitKey, MetaOriginRevisionKey, notify.MetaRevisionKey} {
		if v, ok := e.Metadata[k]; ok {
			rev, found = v, true
			break
		}
	}
	if !found {
		return "", ErrNoRevision
	}
	r, err := source.ParseRevision(rev)
	if err != nil || (r.Algorithm != source.SHA1 && r.Algorithm != source.SHA256) {
		return "", fmt.Errorf("%w: %q holds no Git commit hash", ErrNoRevision, rev)
	}
	return r.Digest, nil
}

// statusPoster is the host-specific part of a commit-status provider.
type statusPoster interface {
	// post sets the status unless the latest one with key is identical.
	post(ctx context.Context, st commitStatus) error
}

// commitStatus is one status to set.
type commitStatus struct {
	sha      string
	key      string
	state    string // "success", "failure" or "pending"
	name     string // "<kind>/<name>"
	desc     string // the reason in lowercase words
	event    *notify.Event
	progress bool
}

// statusSender computes the key and the state and hands them to a host.
type statusSender struct {
	c         *client
	typ       string
	host      statusPoster
	uid       string
	expr      *CommitStatusExpr
	provider  map[string]any
	alert     map[string]any
	pendingOK bool // gitea reports Progressing as pending
}

func newCommitStatus(c *client, cfg *Config) (Sender, error) {
	s := &statusSender{c: c, typ: cfg.Type, uid: cfg.ProviderUID, provider: cfg.ProviderObject, alert: cfg.AlertObject}
	if cfg.CommitStatusExpr != "" {
		x, err := CompileCommitStatusExpr(cfg.CommitStatusExpr)
		if err != nil {
			return nil, fmt.Errorf("%w: CommitStatusExpr: %w", ErrInvalidConfig, err)
		}
		s.expr = x
	} else if cfg.ProviderUID == "" {
		return nil, configError("ProviderUID", "is required for the default commit-status key (or set CommitStatusExpr)")
	}
	repo, err := parseGitAddress(cfg.Address)
	if err != nil && cfg.Type != TypeBitbucketServer {
		return nil, err
	}
	tok := gitToken(cfg)
	switch cfg.Type {
	case TypeGitHub:
		owner, name, err := repo.ownerRepo()
		if err != nil {
			return nil, err
		}
		api := githubAPI(repo.host)
		auth, _, err := githubAuth(c, cfg, api)
		if err != nil {
			return nil, err
		}
		s.host = &githubStatus{c: c, api: api, owner: owner, repo: name, auth: auth}
	case TypeGitLab:
		if tok == "" {
			return nil, configError("Token", "is required (a GitLab token)")
		}
		s.host = &gitlabStatus{c: c, api: repo.host + "/api/v4", project: url.PathEscape(repo.id), token: tok}
	case TypeGitea:
		owner, name, err := repo.ownerRepo()
		if err != nil {
			return nil, err
		}
		if tok == "" {
			return nil, configError("Token", "is required (a Gitea token)")
		}
		s.host = &giteaStatus{c: c, api: repo.host + "/api/v1", owner: owner, repo: name, token: tok}
		s.pendingOK = true
	case TypeBitbucket:
		owner, name, err := repo.ownerRepo()
		if err != nil {
			return nil, err
		}
		user, pass, ok := strings.Cut(cfg.Token, ":")
		if !ok || strings.Contains(pass, ":") {
			return nil, configError("Token", "must be <user>:<app password>")
		}
		s.host = &bitbucketStatus{c: c, api: "https://api.bitbucket.org/2.0", owner: owner, repo: name, user: user, pass: pass}
	case TypeBitbucketServer:
		h, err := newBitbucketServer(c, cfg)
		if err != nil {
			return nil, err
		}
		s.host = h
	case TypeAzureDevOps:
		parts := strings.Split(repo.id, "/")
		if len(parts) != 4 || parts[2] != "_git" {
			return nil, configError("Address", "must be https://<host>/<organization>/<project>/_git/<repository>")
		}
		if cfg.Token == "" {
			return nil, configError("Token", "is required (an Azure DevOps personal access token)")
		}
		s.host = &azureStatus{c: c, api: fmt.Sprintf("%s/%s/%s/_apis/git/repositories/%s", repo.host,
			url.PathEscape(parts[0]), url.PathEscape(parts[1]), url.PathEscape(parts[3])), token: cfg.Token}
	}
	return s, nil
}

func (s *statusSender) Post(ctx context.Context, e notify.Event) error {
	progressing := e.Reason == reasonProgressing
	if progressing && !s.pendingOK {
		return nil
	}
	sha, err := eventCommit(&e)
	if err != nil {
		return fmt.Errorf("%s: %w", s.typ, err)
	}
	var state string
	switch {
	case progressing:
		state = "pending"
	case e.Severity == notify.SeverityInfo:
		state = "success"
	case e.Severity == notify.SeverityError:
		state = "failure"
	default:
		return fmt.Errorf("%s: no commit status for severity %q", s.typ, e.Severity)
	}
	key := DefaultCommitStatus(s.uid, e)
	if s.expr != nil {
		if key, err = s.expr.Eval(ctx, e, s.provider, s.alert); err != nil {
			return fmt.Errorf("%s: commit status key: %w", s.typ, err)
		}
	}
	name, desc := nameAndDescription(&e)
	return s.host.post(ctx, commitStatus{sha: sha, key: key, state: state, name: name, desc: desc, event: &e, progress: progressing})
}

// githubStatus sets GitHub commit statuses.
type githubStatus struct {
	c           *client
	api         string
	owner, repo string
	auth        bearerSource
}

func (g *githubStatus) post(ctx context.Context, st commitStatus) error {
	base := fmt.Sprintf("%s/repos/%s/%s", g.api, url.PathEscape(g.owner), url.PathEscape(g.repo))
	h, err := bearerHeaders(ctx, g.auth)
	if err != nil {
		return err
	}
	var existing []struct {
		State       string `json:"state"`
		Context     string `json:"context"`
		Description string `json:"description"`
	}
	if _, err := g.c.jsonRequest(ctx, http.MethodGet, base+"/commits/"+st.sha+"/statuses?per_page=50", nil, h, &existing); err != nil {
		return fmt.Errorf("listing commit statuses: %w", err)
	}
	// The newest status of a context comes first: skip if it says the same.
	for _, s := range existing {
		if s.Context == st.key {
			if s.State == st.state && s.Description == st.desc {
				return nil
			}
			break
		}
	}
	p := map[string]string{"state": st.state, "context": st.key, "description": st.desc}
	if _, err := g.c.jsonRequest(ctx, http.MethodPost, base+"/statuses/"+st.sha, p, h, nil); err != nil {
		return fmt.Errorf("creating commit status: %w", err)
	}
	return nil
}

// gitlabStatus sets GitLab commit statuses.
type gitlabStatus struct {
	c       *client
	api     string
	project string // URL-escaped path
	token   string
}

func (g *gitlabStatus) post(ctx context.Context, st commitStatus) error {
	state := st.state
	if state == "failure" {
		state = "failed"
	}
	h := map[string]string{"PRIVATE-TOKEN": g.token}
	base := g.api + "/projects/" + g.project
	var existing []struct {
		SHA         string `json:"sha"`
		Status      string `json:"status"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if _, err := g.c.jsonRequest(ctx, http.MethodGet, base+"/repository/commits/"+st.sha+"/statuses?name="+url.QueryEscape(st.key), nil, h, &existing); err != nil {
		return fmt.Errorf("listing commit statuses: %w", err)
	}
	for _, s := range existing {
		if s.SHA == st.sha && s.Status == state && s.Description == st.desc && s.Name == st.key {
			return nil
		}
	}
	p := map[string]string{"state": state, "name": st.key, "description": st.desc}
	if _, err := g.c.jsonRequest(ctx, http.MethodPost, base+"/statuses/"+st.sha, p, h, nil); err != nil {
		return fmt.Errorf("setting commit status: %w", err)
	}
	return nil
}

// giteaStatus sets Gitea (and Forgejo) commit statuses.
type giteaStatus struct {
	c           *client
	api         string
	owner, repo string
	token       string
}

func giteaHeaders(token string) map[string]string {
	return map[string]string{"Authorization": "token " + token, "Accept": contentTypeJSON}
}

func (g *giteaStatus) post(ctx context.Context, st commitStatus) error {
	base := fmt.Sprintf("%s/repos/%s/%s/statuses/%s", g.api, url.PathEscape(g.owner), url.PathEscape(g.repo), st.sha)
	var existing []struct {
		State       string `json:"status"`
		Context     string `json:"context"`
		Description string `json:"description"`
	}
	if _, err := g.c.jsonRequest(ctx, http.MethodGet, base+"?page=1&limit=50", nil, giteaHeaders(g.token), &existing); err != nil {
		return fmt.Errorf("listing commit statuses: %w", err)
	}
	for _, s := range existing {
		if s.Context == "" || s.State == "" || s.Description == "" {
			continue
		}
		if s.Context == st.key {
			if s.State == st.state && s.Description == st.desc {
				return nil
			}
			break
		}
	}
	p := map[string]string{"state": st.state, "target_url": "", "description": st.desc, "context": st.key}
	if _, err := g.c.jsonRequest(ctx, http.MethodPost, base, p, giteaHeaders(g.token), nil); err != nil {
		return fmt.Errorf("creating commit status: %w", err)
	}
	return nil
}

// sha1Key is Flux's Bitbucket build key: the hex SHA-1 of the commit-status
// key (Bitbucket caps keys at 40 characters).
func sha1Key(s string) string { return fmt.Sprintf("%x", sha1.Sum([]byte(s))) }

// bitbucketStatus sets Bitbucket Cloud build statuses.
type bitbucketStatus struct {
	c           *client
	api         string
	owner, repo string
	user, pass  string
}

func (b *bitbucketStatus) post(ctx context.Context, st commitStatus) error {
	state := map[string]string{"success": "SUCCESSFUL", "failure": "FAILED"}[st.state]
	key := sha1Key(st.key)
	base := fmt.Sprintf("%s/repositories/%s/%s/commit/%s/statuses/build", b.api, url.PathEscape(b.owner), url.PathEscape(b.repo), st.sha)
	h := map[string]string{"Authorization": "Basic " + basicAuth(b.user, b.pass)}
	var existing struct {
		State       string `json:"state"`
		Description string `json:"description"`
	}
	code, err := b.c.jsonRequest(ctx, http.MethodGet, base+"/"+key, nil, h, &existing, http.StatusNotFound)
	if err != nil {
		return fmt.Errorf("getting commit status: %w", err)
	}
	if code != http.StatusNotFound && existing.State == state && existing.Description == st.desc {
		return nil
	}
	p := map[string]string{"state": state, "key": key, "name": st.name, "description": st.desc, "url": "https://bitbucket.org"}
	if _, err := b.c.jsonRequest(ctx, http.MethodPost, base, p, h, nil); err != nil {
		return fmt.Errorf("creating commit status: %w", err)
	}
	return nil
}

// bitbucketServer sets Bitbucket Server / Data Center build statuses.
type bitbucketServer struct {
	c       *client
	commits string // <base>/rest/api/latest/projects/<key>/repos/<slug>/commits
	address string
	auth    string
}

func newBitbucketServer(c *client, cfg *Config) (*bitbucketServer, error) {
	u, err := requireURL("Address", cfg.Address)
	if err != nil {
		return nil, configError("Address", "must be the repository's http(s) clone URL (…/scm/<project>/<repo>.git)")
	}
	p := strings.TrimSuffix(u.Path, ".git")
	i := strings.LastIndex(p, "/scm/")
	if i < 0 {
		return nil, configError("Address", "must be the repository's http(s) clone URL (…/scm/<project>/<repo>.git)")
	}
	parts := strings.Split(p[i+len("/scm/"):], "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return nil, configError("Address", "must name a repository as /scm/<project>/<repo>")
	}
	b := &bitbucketServer{c: c, address: cfg.Address}
	b.commits = fmt.Sprintf("%s://%s%s/rest/api/latest/projects/%s/repos/%s/commits", u.Scheme, u.Host, p[:i], url.PathEscape(parts[0]), url.PathEscape(parts[1]))
	switch {
	case cfg.Token != "":
		b.auth = "Bearer " + cfg.Token
	case cfg.Username != "" && cfg.Password != "":
		b.auth = "Basic " + basicAuth(cfg.Username, cfg.Password)
	default:
		return nil, configError("Token", "or Username and Password are required")
	}
	return b, nil
}

func (b *bitbucketServer) post(ctx context.Context, st commitStatus) error {
	state := map[string]string{"success": "SUCCESSFUL", "failure": "FAILED"}[st.state]
	key := sha1Key(st.key)
	name := st.name + " [" + st.desc + "]"
	u := b.commits + "/" + st.sha + "/builds"
	h := map[string]string{"Authorization": b.auth, "X-Atlassian-Token": "no-check", "X-Requested-With": "XMLHttpRequest"}
	var existing struct {
		Key         string `json:"key"`
		State       string `json:"state"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	code, err := b.c.jsonRequest(ctx, http.MethodGet, u+"?key="+url.QueryEscape(key), nil, h, &existing, http.StatusNotFound)
	if err != nil {
		return fmt.Errorf("getting build status: %w", err)
	}
	if code == http.StatusOK && existing.Key == key && existing.State == state && existing.Description == st.desc && existing.Name == name {
		return nil
	}
	p := map[string]string{"key": key, "state": state, "url": b.address, "description": st.desc, "name": name}
	if _, err := b.c.jsonRequest(ctx, http.MethodPost, u, p, h, nil); err != nil {
		return fmt.Errorf("posting build status: %w", err)
	}
	return nil
}

// azureStatus sets Azure DevOps commit statuses.
type azureStatus struct {
	c     *client
	api   string // …/_apis/git/repositories/<repo>
	token string
}

// azureAPIVersion is the Git statuses API version requested.
const azureAPIVersion = "7.1-preview.1"

func (a *azureStatus) post(ctx context.Context, st commitStatus) error {
	state := map[string]string{"success": "succeeded", "failure": "error"}[st.state]
	genre := "fluxcd"
	if s, ok := st.event.Metadata[MetaSummaryKey]; ok {
		genre = "fluxcd:" + s
	}
	u := a.api + "/commits/" + st.sha + "/statuses?api-version=" + azureAPIVersion
	h := map[string]string{"Authorization": "Basic " + basicAuth("", a.token)}
	type statusContext struct {
		Name  string `json:"name"`
		Genre string `json:"genre"`
	}
	var existing struct {
		Value []struct {
			State       string         `json:"state"`
			Description string         `json:"description"`
			Context     *statusContext `json:"context"`
		} `json:"value"`
	}
	if _, err := a.c.jsonRequest(ctx, http.MethodGet, u, nil, h, &existing); err != nil {
		return fmt.Errorf("listing commit statuses: %w", err)
	}
	for _, s := range existing.Value {
		if s.Context == nil || s.State == "" || s.Description == "" {
			continue
		}
		if s.Context.Name == st.key && s.Context.Genre == genre {
			if s.State == state && s.Description == st.desc {
				return nil
			}
			break
		}
	}
	p := map[string]any{"state": state, "description": st.desc, "context": statusContext{Name: st.key, Genre: genre}}
	if _, err := a.c.jsonRequest(ctx, http.MethodPost, u, p, h, nil); err != nil {
		return fmt.Errorf("creating commit status: %w", err)
	}
	return nil
}

// commenter is the host-specific part of a change-request provider.
type commenter interface {
	// user returns the login the token acts as.
	user(ctx context.Context) (string, error)
	// list returns the first page of comments (up to 100, oldest first).
	list(ctx context.Context, number int64) ([]hostComment, error)
	create(ctx context.Context, number int64, body string) error
	update(ctx context.Context, number int64, id int64, body string) error
}

// hostComment is a comment as a host lists it.
type hostComment struct {
	id     int64
	author string
	body   string
}

// changeRequestComment keeps one comment per object on a change request,
// found by a hidden marker and updated in place.
type changeRequestComment struct {
	typ    string
	prefix string
	uid    string
	host   commenter

	mu    sync.Mutex
	login string
}

func newChangeRequestComment(c *client, cfg *Config) (Sender, error) {
	if cfg.ProviderUID == "" {
		return nil, configError("ProviderUID", "is required (it keys the comment of each object)")
	}
	repo, err := parseGitAddress(cfg.Address)
	if err != nil {
		return nil, err
	}
	tok := gitToken(cfg)
	if tok == "" && cfg.Type != TypeGitHubPullRequestComment {
		return nil, configError("Token", "is required")
	}
	s := &changeRequestComment{typ: cfg.Type, uid: cfg.ProviderUID, prefix: "flux-pr-comment-key"}
	switch cfg.Type {
	case TypeGitHubPullRequestComment:
		owner, name, err := repo.ownerRepo()
		if err != nil {
			return nil, err
		}
		api := githubAPI(repo.host)
		auth, app, err := githubAuth(c, cfg, api)
		if err != nil {
			return nil, err
		}
		if app != nil {
			app.withSlug = true
		}
		s.host = &githubComments{c: c, api: api, owner: owner, repo: name, auth: auth, app: app}
	case TypeGitLabMergeRequestComment:
		s.prefix = "flux-mr-comment-key"
		s.host = &gitlabComments{c: c, api: repo.host + "/api/v4", project: url.PathEscape(repo.id), token: tok}
	case TypeGiteaPullRequestComment:
		owner, name, err := repo.ownerRepo()
		if err != nil {
			return nil, err
		}
		s.host = &giteaComments{c: c, api: repo.host + "/api/v1", owner: owner, repo: name, token: tok}
	}
	return s, nil
}

// CommentMarker is the hidden marker Flux puts at the top of a
// change-request comment to find it again: an HTML comment holding the
// prefix ("flux-pr-comment-key" or, for GitLab, "flux-mr-comment-key"),
// the provider UID and the object's kind, namespace and name.
func CommentMarker(prefix, providerUID string, e notify.Event) string {
	o := e.InvolvedObject
	return fmt.Sprintf("<!-- %s:%s/%s/%s/%s -->", prefix, providerUID, o.Kind, o.Namespace, o.Name)
}

func (s *changeRequestComment) Post(ctx context.Context, e notify.Event) error {
	v, ok := e.Metadata[MetaChangeRequestKey]
	if !ok {
		return fmt.Errorf("%s: %w: missing metadata %q", s.typ, ErrNoChangeRequest, MetaChangeRequestKey)
	}
	number, err := strconv.ParseInt(v, 10, 64)
	if err != nil || number <= 0 {
		return fmt.Errorf("%s: %w: metadata %q is %q, not a number", s.typ, ErrNoChangeRequest, MetaChangeRequestKey, v)
	}
	login, err := s.user(ctx)
	if err != nil {
		return err
	}
	marker := CommentMarker(s.prefix, s.uid, e)
	body := marker + "\n\n" + markdownPost(&e)
	comments, err := s.host.list(ctx, number)
	if err != nil {
		return fmt.Errorf("listing comments: %w", err)
	}
	for _, c := range comments {
		if c.author == login && strings.Contains(c.body, marker) {
			if err := s.host.update(ctx, number, c.id, body); err != nil {
				return fmt.Errorf("updating comment: %w", err)
			}
			return nil
		}
	}
	if err := s.host.create(ctx, number, body); err != nil {
		return fmt.Errorf("creating comment: %w", err)
	}
	return nil
}

// user returns (and remembers) the login of the token.
func (s *changeRequestComment) user(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.login != "" {
		return s.login, nil
	}
	l, err := s.host.user(ctx)
	if err != nil {
		return "", fmt.Errorf("getting the authenticated user: %w", err)
	}
	s.login = l
	return l, nil
}

// githubComments comments on GitHub pull requests (issue comments).
type githubComments struct {
	c           *client
	api         string
	owner, repo string
	auth        bearerSource
	// app, when set, is the GitHub App the comments are posted as.
	app *githubApp
}

func (g *githubComments) base() string {
	return fmt.Sprintf("%s/repos/%s/%s/issues", g.api, url.PathEscape(g.owner), url.PathEscape(g.repo))
}

func (g *githubComments) user(ctx context.Context) (string, error) {
	if g.app != nil {
		// An App comments as "<slug>[bot]"; /user is not for Apps.
		return g.app.botLogin(ctx)
	}
	h, err := bearerHeaders(ctx, g.auth)
	if err != nil {
		return "", err
	}
	var u struct {
		Login string `json:"login"`
	}
	_, err = g.c.jsonRequest(ctx, http.MethodGet, g.api+"/user", nil, h, &u)
	return u.Login, err
}

func (g *githubComments) list(ctx context.Context, n int64) ([]hostComment, error) {
	var cs []struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		User struct {
			Login string `json:"login"`
		} `json:"user"`
	}
	u := fmt.Sprintf("%s/%d/comments?sort=created&direction=asc&per_page=100", g.base(), n)
	h, err := bearerHeaders(ctx, g.auth)
	if err != nil {
		return nil, err
	}
	if _, err := g.c.jsonRequest(ctx, http.MethodGet, u, nil, h, &cs); err != nil {
		return nil, err
	}
	out := make([]hostComment, 0, len(cs))
	for _, c := range cs {
		out = append(out, hostComment{id: c.ID, author: c.User.Login, body: c.Body})
	}
	return out, nil
}

func (g *githubComments) create(ctx context.Context, n int64, body string) error {
	h, err := bearerHeaders(ctx, g.auth)
	if err != nil {
		return err
	}
	_, err = g.c.jsonRequest(ctx, http.MethodPost, fmt.Sprintf("%s/%d/comments", g.base(), n), map[string]string{"body": body}, h, nil)
	return err
}

func (g *githubComments) update(ctx context.Context, _ int64, id int64, body string) error {
	h, err := bearerHeaders(ctx, g.auth)
	if err != nil {
		return err
	}
	_, err = g.c.jsonRequest(ctx, http.MethodPatch, fmt.Sprintf("%s/comments/%d", g.base(), id), map[string]string{"body": body}, h, nil)
	return err
}

// gitlabComments writes notes on GitLab merge requests.
type gitlabComments struct {
	c       *client
	api     string
	project string
	token   string
}

func (g *gitlabComments) h() map[string]string { return map[string]string{"PRIVATE-TOKEN": g.token} }

func (g *gitlabComments) user(ctx context.Context) (string, error) {
	var u struct {
		Username string `json:"username"`
	}
	_, err := g.c.jsonRequest(ctx, http.MethodGet, g.api+"/user", nil, g.h(), &u)
	return u.Username, err
}

func (g *gitlabComments) notes(n int64) string {
	return fmt.Sprintf("%s/projects/%s/merge_requests/%d/notes", g.api, g.project, n)
}

func (g *gitlabComments) list(ctx context.Context, n int64) ([]hostComment, error) {
	var ns []struct {
		ID     int64  `json:"id"`
		Body   string `json:"body"`
		Author struct {
			Username string `json:"username"`
		} `json:"author"`
	}
	if _, err := g.c.jsonRequest(ctx, http.MethodGet, g.notes(n)+"?sort=asc&order_by=created_at&per_page=100", nil, g.h(), &ns); err != nil {
		return nil, err
	}
	out := make([]hostComment, 0, len(ns))
	for _, c := range ns {
		out = append(out, hostComment{id: c.ID, author: c.Author.Username, body: c.Body})
	}
	return out, nil
}

func (g *gitlabComments) create(ctx context.Context, n int64, body string) error {
	_, err := g.c.jsonRequest(ctx, http.MethodPost, g.notes(n), map[string]string{"body": body}, g.h(), nil)
	return err
}

func (g *gitlabComments) update(ctx context.Context, n int64, id int64, body string) error {
	_, err := g.c.jsonRequest(ctx, http.MethodPut, fmt.Sprintf("%s/%d", g.notes(n), id), map[string]string{"body": body}, g.h(), nil)
	return err
}

// giteaComments comments on Gitea pull requests (issue comments).
type giteaComments struct {
	c           *client
	api         string
	owner, repo string
	token       string
}

func (g *giteaComments) base() string {
	return fmt.Sprintf("%s/repos/%s/%s/issues", g.api, url.PathEscape(g.owner), url.PathEscape(g.repo))
}

func (g *giteaComments) user(ctx context.Context) (string, error) {
	var u struct {
		Login string `json:"login"`
	}
	_, err := g.c.jsonRequest(ctx, http.MethodGet, g.api+"/user", nil, giteaHeaders(g.token), &u)
	return u.Login, err
}

func (g *giteaComments) list(ctx context.Context, n int64) ([]hostComment, error) {
	var cs []struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		User *struct {
			Login string `json:"login"`
		} `json:"user"`
	}
	if _, err := g.c.jsonRequest(ctx, http.MethodGet, fmt.Sprintf("%s/%d/comments?page=1&limit=100", g.base(), n), nil, giteaHeaders(g.token), &cs); err != nil {
		return nil, err
	}
	out := make([]hostComment, 0, len(cs))
	for _, c := range cs {
		if c.User != nil {
			out = append(out, hostComment{id: c.ID, author: c.User.Login, body: c.Body})
		}
	}
	return out, nil
}

func (g *giteaComments) create(ctx context.Context, n int64, body string) error {
	_, err := g.c.jsonRequest(ctx, http.MethodPost, fmt.Sprintf("%s/%d/comments", g.base(), n), map[string]string{"body": body}, giteaHeaders(g.token), nil)
	return err
}

func (g *giteaComments) update(ctx context.Context, _ int64, id int64, body string) error {
	_, err := g.c.jsonRequest(ctx, http.MethodPatch, fmt.Sprintf("%s/comments/%d", g.base(), id), map[string]string{"body": body}, giteaHeaders(g.token), nil)
	return err
}
