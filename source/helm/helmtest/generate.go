package helmtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// GenerateIndex writes a chart repository index of charts charts with
// versions versions each, whose entries carry what public repositories
// write (descriptions, maintainers, keywords, sources, annotations,
// dependencies, digests), for benchmarks: 170 charts of 100 versions make
// about 21 MB, the size of Bitnami's index. The output is deterministic.
func GenerateIndex(charts, versions int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nentries:\n")
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for c := 0; c < charts; c++ {
		name := fmt.Sprintf("chart-%03d", c)
		fmt.Fprintf(&b, "  %s:\n", name)
		for v := versions - 1; v >= 0; v-- {
			version := fmt.Sprintf("%d.%d.%d", v/20, v%20/5, v%5)
			sum := sha256.Sum256([]byte(name + version))
			fmt.Fprintf(&b, `  - annotations:
      category: Infrastructure
      images: |
        - name: %[1]s
          image: registry.example.com/%[1]s:%[2]s-debian-12-r%[3]d
        - name: os-shell
          image: registry.example.com/os-shell:12-debian-12-r%[3]d
      licenses: Apache-2.0
    apiVersion: v2
    appVersion: %[2]s
    created: "%[4]s"
    dependencies:
    - name: common
      repository: oci://registry.example.com/charts
      tags:
      - bitnami-common
      version: 2.x.x
    description: %[1]s is a chart generated for benchmarks; its description is as long as the ones public repositories carry, a sentence or two about what the application does.
    digest: %[5]s
    home: https://example.com/charts/%[1]s
    icon: https://example.com/assets/stacks/%[1]s/img/%[1]s-stack-220x234.png
    keywords:
    - %[1]s
    - database
    - cache
    - http
    maintainers:
    - name: Example Maintainers
      url: https://github.com/example/charts
    name: %[1]s
    sources:
    - https://github.com/example/charts/tree/main/example/%[1]s
    urls:
    - https://charts.example.com/%[1]s-%[2]s.tgz
    version: %[2]s
`, name, version, v, created.Add(time.Duration(c*versions+v)*time.Hour).Format(time.RFC3339), hex.EncodeToString(sum[:]))
		}
	}
	b.WriteString("generated: \"2026-01-01T00:00:00Z\"\n")
	return b.Bytes()
}
