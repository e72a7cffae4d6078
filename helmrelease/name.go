package helmrelease

import (
	"crypto/sha256"
	"encoding/hex"
)

// MaxReleaseNameLength is the longest release name Helm accepts (53
// characters, so that names derived from it fit Kubernetes' limits).
const MaxReleaseNameLength = 53

// ReleaseName returns the Helm release name of a HelmRelease as Flux
// derives it: releaseName when set, else "<targetNamespace>-<name>" when a
// target namespace is set, else name; then shortened by ShortenName.
func ReleaseName(name, targetNamespace, releaseName string) string {
	switch {
	case releaseName != "":
		return ShortenName(releaseName)
	case targetNamespace != "":
		return ShortenName(targetNamespace + "-" + name)
	default:
		return ShortenName(name)
	}
}

// ShortenName returns name when it has at most MaxReleaseNameLength
// bytes; otherwise its first 40 bytes, "-" and the first 12 hexadecimal
// digits of the SHA-256 of the whole name (53 bytes), as Flux shortens
// release names.
func ShortenName(name string) string {
	if len(name) <= MaxReleaseNameLength {
		return name
	}
	const hashLen = 12
	sum := sha256.Sum256([]byte(name))
	return name[:MaxReleaseNameLength-hashLen-1] + "-" + hex.EncodeToString(sum[:])[:hashLen]
}
