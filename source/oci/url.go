package oci

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// URLPrefix is the scheme every repository address starts with, as in
// Flux's OCIRepository.
const URLPrefix = "oci://"

// maxURLLength caps the length of a repository address.
const maxURLLength = 4096

// ParseURL parses a repository address "oci://host[:port]/path" into a
// go-containerregistry repository. The address must not carry a tag or a
// digest (they belong in Reference), credentials or a query. insecure marks
// the registry as reachable over plain HTTP. A malformed address is an
// error that wraps source.ErrInvalid.
func ParseURL(u string, insecure bool) (repo name.Repository, err error) {
	defer func() {
		if r := recover(); r != nil {
			repo, err = name.Repository{}, invalidf("OCI URL does not parse: %v", r)
		}
	}()
	if len(u) > maxURLLength {
		return name.Repository{}, invalidf("OCI URL is longer than %d bytes", maxURLLength)
	}
	rest, ok := strings.CutPrefix(u, URLPrefix)
	if !ok {
		return name.Repository{}, invalidf("OCI URL must be in the form oci://<host>[:<port>]/<path>")
	}
	if strings.ContainsAny(rest, "@?#\\ \t\r\n") {
		return name.Repository{}, invalidf("OCI URL must hold no credentials, digest, query, fragment or whitespace")
	}
	host, path, ok := strings.Cut(rest, "/")
	if !ok || host == "" || path == "" {
		return name.Repository{}, invalidf("OCI URL must name a host and a repository path: oci://<host>[:<port>]/<path>")
	}
	if strings.Contains(path, ":") {
		return name.Repository{}, invalidf("OCI URL must not contain a tag; set the reference's Tag instead")
	}
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err = name.NewRepository(rest, opts...)
	if err != nil {
		return name.Repository{}, invalidf("OCI URL is not a valid repository address: %v", err)
	}
	// Refuse what name would rewrite (Docker Hub's "library/" and host
	// defaults): the address must be taken as written.
	if repo.Name() != rest {
		return name.Repository{}, invalidf("OCI URL %q is not in canonical form (it reads as %q)", u, URLPrefix+repo.Name())
	}
	return repo, nil
}
