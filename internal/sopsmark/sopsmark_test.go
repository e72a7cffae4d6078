package sopsmark_test

import (
	"fmt"
	"testing"

	"github.com/gitopskit/gitopskit/internal/sopsmark"
)

// Metadata as sops 3.13 writes it, values shortened.
const (
	encYAML = "a: ENC[AES256_GCM,data:Tg==,type:str]\nsops:\n    age:\n        - enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n          recipient: age1q\n    lastmodified: \"2026-11-30T07:26:59Z\"\n    mac: ENC[AES256_GCM,data:6A==,type:str]\n    version: 3.13.3\n"
	encJSON = "{\n\t\"a\": \"ENC[AES256_GCM,data:4Q==,type:str]\",\n\t\"sops\": {\n\t\t\"age\": [{\"recipient\": \"age1q\"}],\n\t\t\"lastmodified\": \"2026-11-30T07:26:59Z\",\n\t\t\"mac\": \"ENC[AES256_GCM,data:P8==,type:str]\",\n\t\t\"version\": \"3.13.3\"\n\t}\n}"
	encEnv  = "A=ENC[AES256_GCM,data:EQ==,type:str]\nsops_age__list_0__map_recipient=age1q\nsops_lastmodified=2026-11-30T07:26:59Z\nsops_mac=ENC[AES256_GCM,data:lB==,type:str]\nsops_version=3.13.3\n"
	encINI  = "[main]\nk = ENC[AES256_GCM,data:bw==,type:str]\n\n[sops]\nage__list_0__map_recipient = age1q\nlastmodified               = 2026-11-30T07:26:59Z\nmac                        = ENC[AES256_GCM,data:n3==,type:str]\nversion                    = 3.13.3\n"
	encBin  = "{\n\t\"data\": \"ENC[AES256_GCM,data:NB==,type:str]\",\n\t\"sops\": {\n\t\t\"lastmodified\": \"2026-11-30T07:26:59Z\",\n\t\t\"mac\": \"ENC[AES256_GCM,data:Ej==,type:str]\"\n\t}\n}"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"yaml", encYAML, sopsmark.YAML},
		{"yaml without mac", "a: x\nsops:\n    lastmodified: \"2026-11-30T07:26:59Z\"\n    mac_only_encrypted: true\n", sopsmark.YAML},
		{"yaml with mac only", "sops:\n  mac: XENC[\n", sopsmark.YAML},
		{"yaml stream, second document", "a: b\n---\nkind: Secret\nsops:\n  mac: ENC[x]\n", sopsmark.YAML},
		{"yaml flow", "a: x\nsops: {age: [{recipient: r}], mac: 'ENC['}\n", sopsmark.YAML},
		{"yaml CRLF", "a: x\r\nsops:\r\n  lastmodified: t\r\n", sopsmark.YAML},
		{"json", encJSON, sopsmark.JSON},
		{"json compact", `{"a":"x","sops":{"lastmodified":"t"}}`, sopsmark.JSON},
		{"binary wrapper", encBin, sopsmark.JSON},
		{"dotenv", encEnv, sopsmark.Dotenv},
		{"dotenv without mac", "A=x\nsops_lastmodified=2026-11-30T07:26:59Z\n", sopsmark.Dotenv},
		{"ini", encINI, sopsmark.INI},
		{"plain yaml", "kind: Secret\nstringData:\n  sops: yes\n  mac: x\n", ""},
		{"sops key, no metadata", "sops:\n  enabled: true\nmac: x\n", ""},
		{"nested sops key", "spec:\n  sops:\n    mac: x\n", ""},
		{"json sops not an object", `{"sops": "mac", "mac": 1}`, ""},
		{"json nested, no metadata", `{"tools": {"sops": {"version": "3"}}}`, ""},
		{"dotenv mention", "NOTE=set sops_mac=... by hand\n", ""},
		{"ini other section", "[main]\nmac = x\n[sops]\nversion = 3\n", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		got, ok := sopsmark.Detect([]byte(tc.data))
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: Detect = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
		if tc.want != "" && !sopsmark.Is([]byte(tc.data), tc.want) {
			t.Errorf("%s: Is(%s) = false", tc.name, tc.want)
		}
	}
	if !sopsmark.Is([]byte(encBin), sopsmark.Binary) || sopsmark.Is([]byte(encEnv), sopsmark.YAML) || sopsmark.Is([]byte(encYAML), sopsmark.Dotenv) {
		t.Error("Is does not keep to its format")
	}
}

func TestFormatForPath(t *testing.T) {
	for name, want := range map[string]string{
		"a.yaml": sopsmark.YAML, "dir/A.YML": sopsmark.YAML, "x.json": sopsmark.JSON,
		"app.env": sopsmark.Dotenv, "s.ini": sopsmark.INI, "tls.crt": sopsmark.Binary, "noext": sopsmark.Binary,
	} {
		if got := sopsmark.FormatForPath(name); got != want {
			t.Errorf("FormatForPath(%q) = %q, want %q", name, got, want)
		}
	}
}

func FuzzDetect(f *testing.F) {
	for _, s := range []string{encYAML, encJSON, encEnv, encINI, encBin, "sops: {mac: x}", `"sops":{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if format, ok := sopsmark.Detect(data); ok != sopsmark.Is(data, format) {
			t.Fatalf("Detect says %q, %v; Is disagrees", format, ok)
		}
	})
}

func Example() {
	env := []byte("PASSWORD=ENC[AES256_GCM,data:EQ==,type:str]\nsops_lastmodified=2026-11-30T07:26:59Z\nsops_mac=ENC[AES256_GCM,data:lB==,type:str]\n")
	fmt.Println(sopsmark.Detect(env))
	fmt.Println(sopsmark.Is([]byte("PASSWORD=hunter2\n"), sopsmark.FormatForPath("app.env")))
	// Output:
	// dotenv true
	// false
}
