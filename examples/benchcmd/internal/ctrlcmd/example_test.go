package ctrlcmd_test

import (
	"net/http"
	"net/http/httptest"
	"os"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/ctrlcmd"
)

// A RequestCounter counts what goes through the REST configs it wraps.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("{}"))
	}))
	defer srv.Close()
	var c ctrlcmd.RequestCounter
	hc, err := rest.HTTPClientFor(c.Wrap(&rest.Config{Host: srv.URL}))
	if err != nil {
		panic(err)
	}
	for _, path := range []string{
		"/api/v1/namespaces/a/configmaps/b",
		"/api/v1/namespaces/a/configmaps/c",
		"/apis/apps/v1/namespaces/a/deployments?watch=true",
	} {
		resp, err := hc.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	c.Print(os.Stdout)
	// Output:
	// API requests of the controllers: 3
	//         2 GET configmaps
	//         1 WATCH deployments
}
