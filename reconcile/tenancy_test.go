package reconcile

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// testMapper knows core and RBAC kinds and one namespaced and one
// cluster-scoped custom kind.
func testMapper() apimeta.RESTMapper {
	m := apimeta.NewDefaultRESTMapper(nil)
	for _, k := range []struct {
		gvk   schema.GroupVersionKind
		scope apimeta.RESTScope
	}{
		{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, apimeta.RESTScopeNamespace},
		{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, apimeta.RESTScopeRoot},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}, apimeta.RESTScopeNamespace},
		{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}, apimeta.RESTScopeRoot},
		{schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}, apimeta.RESTScopeRoot},
		{schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}, apimeta.RESTScopeNamespace},
		{schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Cluster"}, apimeta.RESTScopeRoot},
	} {
		m.Add(k.gvk, k.scope)
	}
	return m
}

func tobj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func crd(group, kind, scope string) *unstructured.Unstructured {
	u := tobj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", strings.ToLower(kind)+"s."+group)
	u.Object["spec"] = map[string]any{"group": group, "scope": scope, "names": map[string]any{"kind": kind}}
	return u
}

func TestTenancyCheck(t *testing.T) {
	crdKind := schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	tests := []struct {
		name    string
		tenancy Tenancy
		objs    []*unstructured.Unstructured
		refused []string // "Kind/ns/name: reason substring"
	}{
		{
			name: "zero tenancy accepts everything",
			objs: []*unstructured.Unstructured{tobj("v1", "Namespace", "", "x"), tobj("v1", "ConfigMap", "other", "a"), tobj("no/v1", "Unknown", "", "u")},
		},
		{
			name:    "tenant namespace accepted",
			tenancy: Tenancy{Namespace: "team"},
			objs:    []*unstructured.Unstructured{tobj("v1", "ConfigMap", "team", "a"), tobj("example.com/v1", "Widget", "team", "w")},
		},
		{
			name:    "other namespaces, missing namespace and cluster scope refused, all listed",
			tenancy: Tenancy{Namespace: "team"},
			objs: []*unstructured.Unstructured{
				tobj("v1", "ConfigMap", "team", "ok"),
				tobj("v1", "ConfigMap", "kube-system", "moved"),
				tobj("rbac.authorization.k8s.io/v1", "RoleBinding", "", "nons"),
				tobj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "team", "admin"),
				tobj("v1", "Namespace", "", "team"),
				tobj("example.com/v1", "Cluster", "", "c"),
			},
			refused: []string{
				`ConfigMap/kube-system/moved: namespace "kube-system" is not the tenant's`,
				"RoleBinding/nons: no namespace set",
				"ClusterRoleBinding/team/admin: cluster-scoped kind ClusterRoleBinding.rbac.authorization.k8s.io is not allowed",
				"Namespace/team: cluster-scoped kind Namespace is not allowed",
				"Cluster/c: cluster-scoped kind Cluster.example.com is not allowed",
			},
		},
		{
			name:    "allowed cluster-scoped kinds",
			tenancy: Tenancy{Namespace: "team", AllowClusterScoped: []schema.GroupKind{{Kind: "Namespace"}, {Group: "example.com", Kind: "Cluster"}}},
			objs:    []*unstructured.Unstructured{tobj("v1", "Namespace", "", "team"), tobj("example.com/v1", "Cluster", "", "c")},
		},
		{
			name:    "unknown kind refused",
			tenancy: Tenancy{Namespace: "team"},
			objs:    []*unstructured.Unstructured{tobj("new.example.com/v1", "Gadget", "team", "g")},
			refused: []string{"Gadget/team/g: kind Gadget.new.example.com is not known to the API server"},
		},
		{
			name:    "kind defined by a CRD in the set is judged by its scope",
			tenancy: Tenancy{Namespace: "team", AllowClusterScoped: []schema.GroupKind{crdKind}},
			objs: []*unstructured.Unstructured{
				crd("new.example.com", "Gadget", "Namespaced"), tobj("new.example.com/v1", "Gadget", "team", "g"),
				crd("new.example.com", "Global", "Cluster"), tobj("new.example.com/v1", "Global", "", "x"),
			},
			refused: []string{"Global/x: cluster-scoped kind Global.new.example.com is not allowed"},
		},
		{
			name:    "a CRD cannot make a cluster-scoped kind namespaced",
			tenancy: Tenancy{Namespace: "team", AllowClusterScoped: []schema.GroupKind{crdKind}},
			objs:    []*unstructured.Unstructured{crd("example.com", "Cluster", "Namespaced"), tobj("example.com/v1", "Cluster", "team", "c")},
			refused: []string{"Cluster/team/c: cluster-scoped kind Cluster.example.com is not allowed"},
		},
		{
			name:    "the CRD itself is cluster-scoped",
			tenancy: Tenancy{Namespace: "team"},
			objs:    []*unstructured.Unstructured{crd("new.example.com", "Gadget", "Namespaced"), tobj("new.example.com/v1", "Gadget", "team", "g")},
			refused: []string{"CustomResourceDefinition/gadgets.new.example.com: cluster-scoped kind CustomResourceDefinition.apiextensions.k8s.io"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tenancy.Check(tt.objs, testMapper())
			if len(tt.refused) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var te *TenancyError
			if !errors.As(err, &te) || !errors.Is(err, ErrOutsideTenancy) {
				t.Fatalf("want a *TenancyError, got %v", err)
			}
			var got []string
			for _, r := range te.Refused {
				got = append(got, r.Ref.String()+": "+r.Reason)
			}
			if len(got) != len(tt.refused) {
				t.Fatalf("refused %d objects, want %d:\n%s", len(got), len(tt.refused), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.refused[i]) {
					t.Errorf("refusal %d: %q, want %q", i, got[i], tt.refused[i])
				}
				if !strings.Contains(err.Error(), tt.refused[i]) {
					t.Errorf("error %q does not list %q", err, tt.refused[i])
				}
			}
		})
	}
}

func TestTenancyErrorListsAtMost20(t *testing.T) {
	var objs []*unstructured.Unstructured
	for i := 0; i < 25; i++ {
		objs = append(objs, tobj("v1", "ConfigMap", "other", "cm"+strings.Repeat("x", i)))
	}
	err := Tenancy{Namespace: "team"}.Check(objs, testMapper())
	if err == nil || !strings.HasSuffix(err.Error(), "and 5 more") || !strings.Contains(err.Error(), "25 object(s)") {
		t.Errorf("error: %v", err)
	}
}

type failingMapper struct{}

func (failingMapper) RESTMapping(schema.GroupKind, ...string) (*apimeta.RESTMapping, error) {
	return nil, errors.New("discovery unavailable")
}

func TestTenancyMapperFailure(t *testing.T) {
	err := Tenancy{Namespace: "team"}.Check([]*unstructured.Unstructured{tobj("v1", "ConfigMap", "team", "a")}, failingMapper{})
	var te *TenancyError
	if err == nil || errors.As(err, &te) || !strings.Contains(err.Error(), "discovery unavailable") {
		t.Errorf("want the mapper's error, got %v", err)
	}
}

func TestCheckSameNamespace(t *testing.T) {
	if err := CheckSameNamespace("spec.sourceRef", "GitRepository/fleet", "team", ""); err != nil {
		t.Error(err)
	}
	if err := CheckSameNamespace("spec.sourceRef", "GitRepository/fleet", "team", "team"); err != nil {
		t.Error(err)
	}
	err := CheckSameNamespace("spec.dependsOn[1]", "Kustomization/infra", "team", "flux-system")
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("want ErrAccessDenied, got %v", err)
	}
	for _, s := range []string{"spec.dependsOn[1]", "Kustomization/infra", `"flux-system"`, `"team"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
}

func TestImpersonateFor(t *testing.T) {
	cfg := &rest.Config{Host: "https://example"}
	tests := []struct{ named, def, want string }{
		{"", "", ""},
		{"", "restricted", "system:serviceaccount:team:restricted"},
		{"deployer", "restricted", "system:serviceaccount:team:deployer"},
		{"deployer", "", "system:serviceaccount:team:deployer"},
	}
	for _, tt := range tests {
		got, err := ImpersonateFor(cfg, "team", tt.named, tt.def)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got.Impersonate.UserName); diff != "" {
			t.Errorf("ImpersonateFor(%q, %q): %s", tt.named, tt.def, diff)
		}
		if (tt.want == "") != (got == cfg) {
			t.Errorf("ImpersonateFor(%q, %q) returned cfg itself: %v", tt.named, tt.def, got == cfg)
		}
	}
	if _, err := ImpersonateFor(cfg, "team", "", "Bad:Name"); err == nil {
		t.Error("accepted an invalid default name")
	}
}
