package clustertest

import (
	"encoding/base64"
	"os"

	corev1 "k8s.io/api/core/v1"
)

type corev1Secret = corev1.Secret

func osReadFile(p string) ([]byte, error) { return os.ReadFile(p) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
