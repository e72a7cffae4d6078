package pullrequest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gitopskit/gitopskit/imagepolicy/pullrequest"
)

// Ensure opens a pull request for the automation branch, or updates the
// open one. Here a stand-in for GitHub's API answers.
func ExampleGitHub_Ensure() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprint(w, `[]`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"number":42,"html_url":"https://github.com/org/fleet/pull/42"}`)
	}))
	defer api.Close()

	var p pullrequest.Provider = &pullrequest.GitHub{BaseURL: api.URL, Token: "token", Owner: "org", Repo: "fleet"}
	pr, err := p.Ensure(context.Background(), pullrequest.Request{
		Head: "image-updates", Base: "main", Title: "Update images", Body: "ghcr.io/org/web:1.1.0",
	})
	fmt.Println(pr.Number, pr.URL, pr.Created, err)
	// Output: 42 https://github.com/org/fleet/pull/42 true <nil>
}
