package controllers_test

import (
	"testing"

	"github.com/gitopskit/gitopskit/internal/testenv"
)

// env is the local control plane the package's tests share.
var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{FluxCRDs: true}, &env)
}
