package helmtest_test

import (
	"context"
	"fmt"

	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

func Example() {
	srv := helmtest.Start(helmtest.WithTLS())
	defer srv.Close()
	if _, err := srv.AddChart(map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: app\nversion: 1.0.0\n",
		"values.yaml": "replicas: 1\n",
	}); err != nil {
		panic(err)
	}
	ix, err := srv.Repository().Index(context.Background())
	if err != nil {
		panic(err)
	}
	cv, err := ix.Get("app", "")
	if err != nil {
		panic(err)
	}
	fmt.Println(cv.Name, cv.Version, cv.URLs[0])
	// Output: app 1.0.0 charts/app-1.0.0.tgz
}
