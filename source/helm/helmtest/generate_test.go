package helmtest_test

import (
	"testing"

	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

func TestGenerateIndex(t *testing.T) {
	data := helmtest.GenerateIndex(170, 100)
	if len(data) < 19<<20 || len(data) > 24<<20 {
		t.Errorf("170 charts of 100 versions make %d bytes, want about 20 MB", len(data))
	}
	ix, err := helm.ParseIndex(helmtest.GenerateIndex(3, 7))
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Entries) != 3 || len(ix.Entries["chart-002"]) != 7 {
		t.Fatalf("entries %v", ix.Entries)
	}
	if cv, err := ix.Get("chart-001", ""); err != nil || cv.Version != "0.1.1" {
		t.Errorf("highest version %v %v", cv, err)
	}
}
