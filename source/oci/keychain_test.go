package oci_test

import "github.com/google/go-containerregistry/pkg/authn"

type fakeKeychain struct{}

func (fakeKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }
