package sigstoretest_test

import (
	"fmt"

	"github.com/gitopskit/gitopskit/source/oci/sigstoreverify"
	"github.com/gitopskit/gitopskit/source/oci/sigstoreverify/sigstoretest"
)

func Example() {
	s, err := sigstoretest.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	// The trusted_root.json a verifier is given: one certificate
	// authority, one Rekor log, one CT log, one timestamping authority.
	tr, err := sigstoreverify.ParseTrustedRoot(s.TrustedRootJSON())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(tr.FulcioCertificateAuthorities()), len(tr.RekorLogs()), len(tr.CTLogs()), len(tr.TimestampingAuthorities()))

	bundle, err := s.SignKeyless("release@example.com", "https://accounts.example.com",
		sigstoretest.Statement("sha256:"+fmt.Sprintf("%064x", 1), sigstoreverify.CosignSignPredicateType))
	fmt.Println(err == nil, len(bundle) > 0)
	// Output:
	// 1 1 1 1
	// true true
}
