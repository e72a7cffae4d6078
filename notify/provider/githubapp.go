package provider

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Keys of a provider Secret (Config.SecretData) that hold GitHub App
// credentials, with Flux's names. The github, githubdispatch and
// githubpullrequestcomment types use them when Token and Password are
// empty.
const (
	// SecretKeyGitHubAppID holds the App's numeric ID.
	SecretKeyGitHubAppID = "githubAppID"
	// SecretKeyGitHubAppInstallationID holds the numeric ID of the App's
	// installation; give it or SecretKeyGitHubAppInstallationOwner.
	SecretKeyGitHubAppInstallationID = "githubAppInstallationID"
	// SecretKeyGitHubAppInstallationOwner holds the organization or user
	// the App is installed on; the installation is looked up by it.
	SecretKeyGitHubAppInstallationOwner = "githubAppInstallationOwner"
	// SecretKeyGitHubAppPrivateKey holds the App's PEM RSA private key.
	SecretKeyGitHubAppPrivateKey = "githubAppPrivateKey"
	// SecretKeyGitHubAppBaseURL holds the REST API root the App
	// authenticates against (https://ghe.example.com/api/v3 for GitHub
	// Enterprise Server); empty means the API of the repository's host.
	SecretKeyGitHubAppBaseURL = "githubAppBaseURL"
)

// GitHub App tokens: the app JWT is short-lived (GitHub accepts up to ten
// minutes) and backdated for clock drift, as GitHub recommends.
const (
	githubAppJWTBackdate = 60 * time.Second
	githubAppJWTLifetime = 5 * time.Minute
)

// githubApp mints installation access tokens for a GitHub App.
type githubApp struct {
	c              *client
	api            string
	appID          string
	installationID string
	owner          string
	key            *rsa.PrivateKey
	cache          *TokenCache
	keyDigest      string
	now            func() time.Time
	// withSlug makes each mint also fetch the App's slug (for the login
	// its comments appear under).
	withSlug bool
}

// githubAuth returns the credentials of a GitHub provider: Token (or
// Password), else a GitHub App from SecretData. app is nil for a token.
func githubAuth(c *client, cfg *Config, repoAPI string) (bearerSource, *githubApp, error) {
	if tok := gitToken(cfg); tok != "" {
		return staticBearer(tok), nil, nil
	}
	if _, ok := cfg.SecretData[SecretKeyGitHubAppID]; !ok {
		return nil, nil, configError("Token", "is required (a GitHub token, or the GitHub App keys %s, %s or %s, and %s in SecretData)",
			SecretKeyGitHubAppID, SecretKeyGitHubAppInstallationID, SecretKeyGitHubAppInstallationOwner, SecretKeyGitHubAppPrivateKey)
	}
	app, err := newGitHubApp(c, cfg, repoAPI)
	if err != nil {
		return nil, nil, err
	}
	return app, app, nil
}

func newGitHubApp(c *client, cfg *Config, repoAPI string) (*githubApp, error) {
	d := cfg.SecretData
	field := func(k string) string { return strings.TrimSpace(string(d[k])) }
	a := &githubApp{c: c, api: repoAPI, cache: cfg.TokenCache, now: time.Now}
	a.appID = field(SecretKeyGitHubAppID)
	if n, err := strconv.ParseInt(a.appID, 10, 64); err != nil || n <= 0 {
		return nil, configError("SecretData", "%s is not a GitHub App ID", SecretKeyGitHubAppID)
	}
	a.installationID, a.owner = field(SecretKeyGitHubAppInstallationID), field(SecretKeyGitHubAppInstallationOwner)
	switch {
	case a.installationID == "" && a.owner == "":
		return nil, configError("SecretData", "%s or %s is required", SecretKeyGitHubAppInstallationID, SecretKeyGitHubAppInstallationOwner)
	case a.installationID != "" && a.owner != "":
		return nil, configError("SecretData", "only one of %s and %s may be given", SecretKeyGitHubAppInstallationID, SecretKeyGitHubAppInstallationOwner)
	case a.installationID != "":
		if n, err := strconv.ParseInt(a.installationID, 10, 64); err != nil || n <= 0 {
			return nil, configError("SecretData", "%s is not an installation ID", SecretKeyGitHubAppInstallationID)
		}
	case strings.ContainsAny(a.owner, "/?#% "):
		return nil, configError("SecretData", "%s is not an account name", SecretKeyGitHubAppInstallationOwner)
	}
	pemKey := d[SecretKeyGitHubAppPrivateKey]
	if len(pemKey) == 0 {
		return nil, configError("SecretData", "%s is required", SecretKeyGitHubAppPrivateKey)
	}
	key, err := parseRSAKey(pemKey)
	if err != nil {
		return nil, configError("SecretData", "%s %s", SecretKeyGitHubAppPrivateKey, err)
	}
	a.key = key
	sum := sha256.Sum256(pemKey)
	a.keyDigest = string(sum[:])
	if base := field(SecretKeyGitHubAppBaseURL); base != "" {
		u, err := requireURL("SecretData", base)
		if err != nil {
			return nil, configError("SecretData", "%s must be an http or https URL", SecretKeyGitHubAppBaseURL)
		}
		a.api = strings.TrimSuffix(u.String(), "/")
	}
	if a.cache == nil {
		a.cache = &TokenCache{}
	}
	return a, nil
}

// jwt returns a fresh app JWT: iss is the App ID, iat backdated a minute.
func (a *githubApp) jwt() (string, error) {
	now := a.now().Truncate(time.Second)
	claims := map[string]any{
		"iss": a.appID,
		"iat": now.Add(-githubAppJWTBackdate).Unix(),
		"exp": now.Add(githubAppJWTLifetime).Unix(),
	}
	s, err := signJWT(a.key, "", claims)
	if err != nil {
		return "", fmt.Errorf("%s: GitHub App JWT: %w", a.c.typ, err)
	}
	a.c.addSecret(s)
	return s, nil
}

func (a *githubApp) bearer(ctx context.Context) (string, error) {
	t, err := a.token(ctx)
	return t.value, err
}

// botLogin is the login the App comments as: "<slug>[bot]".
func (a *githubApp) botLogin(ctx context.Context) (string, error) {
	t, err := a.token(ctx)
	if err != nil {
		return "", err
	}
	return t.extra + "[bot]", nil
}

// token returns a cached installation token, minting one when needed.
func (a *githubApp) token(ctx context.Context) (mintedToken, error) {
	withSlug := a.withSlug
	key := cacheKey("github-app", a.api, a.appID, a.installationID, a.owner, a.keyDigest, strconv.FormatBool(withSlug))
	return a.cache.get(ctx, key, a.now, func(ctx context.Context) (mintedToken, error) {
		jwt, err := a.jwt()
		if err != nil {
			return mintedToken{}, err
		}
		h := githubHeaders(jwt)
		var slug string
		if withSlug {
			var app struct {
				Slug string `json:"slug"`
			}
			if _, err := a.c.jsonRequest(ctx, http.MethodGet, a.api+"/app", nil, h, &app); err != nil {
				return mintedToken{}, fmt.Errorf("getting the GitHub App: %w", err)
			}
			if app.Slug == "" {
				return mintedToken{}, fmt.Errorf("%s: the GitHub App has no slug", a.c.typ)
			}
			slug = app.Slug
		}
		id := a.installationID
		if id == "" {
			if id, err = a.findInstallation(ctx, h); err != nil {
				return mintedToken{}, err
			}
		}
		var out struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		if _, err := a.c.jsonRequest(ctx, http.MethodPost, a.api+"/app/installations/"+id+"/access_tokens", nil, h, &out); err != nil {
			return mintedToken{}, fmt.Errorf("creating a GitHub App installation token: %w", err)
		}
		if out.Token == "" {
			return mintedToken{}, fmt.Errorf("%s: GitHub answered without an installation token", a.c.typ)
		}
		a.c.addSecret(out.Token)
		now := a.now()
		if out.ExpiresAt.IsZero() || !out.ExpiresAt.After(now) {
			// Unknown lifetime: use it for this post only.
			out.ExpiresAt = now
		}
		return newMintedToken(out.Token, slug, now, out.ExpiresAt), nil
	})
}

// findInstallation looks up the installation on the owner as an
// organization, then as a user, as Flux does.
func (a *githubApp) findInstallation(ctx context.Context, h map[string]string) (string, error) {
	for _, kind := range []string{"orgs", "users"} {
		var inst struct {
			ID int64 `json:"id"`
		}
		code, err := a.c.jsonRequest(ctx, http.MethodGet, a.api+"/"+kind+"/"+url.PathEscape(a.owner)+"/installation", nil, h, &inst, http.StatusNotFound)
		if err != nil {
			return "", fmt.Errorf("finding the GitHub App installation of %q: %w", a.owner, err)
		}
		if code != http.StatusNotFound && inst.ID > 0 {
			return strconv.FormatInt(inst.ID, 10), nil
		}
	}
	return "", fmt.Errorf("%s: the GitHub App is not installed on the organization or user %q", a.c.typ, a.owner)
}
