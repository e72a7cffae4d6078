// Package sopsmark recognises SOPS-encrypted documents by the metadata sops
// writes into them, without parsing or decrypting them, so that a package
// that does not link SOPS can still refuse encrypted input it cannot
// decrypt, and a decrypting package can tell which format a document is in.
//
// A document counts as encrypted when it carries sops's metadata block with
// a MAC or a last-modified time: a top-level `sops:` mapping with `mac` or
// `lastmodified` in YAML, a top-level "sops" object with "mac" or
// "lastmodified" in JSON (also the wrapper sops writes around binary files),
// `sops_mac=` or `sops_lastmodified=` lines in dotenv files, and a `[sops]`
// section with `mac` or `lastmodified` keys in INI files. A document whose
// MAC line was removed is still recognised by its last-modified time.
package sopsmark
