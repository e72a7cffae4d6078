package notify

import "strings"

// EventGroup is the API group of Flux's event API. Metadata keys prefixed
// with "event.toolkit.fluxcd.io/" come from the involved object's
// annotations; they have the lowest precedence when an Alert composes the
// metadata of a notification.
const EventGroup = "event.toolkit.fluxcd.io"

// Metadata keys Flux's controllers use in events. On the wire (what a
// controller posts) they are prefixed with the involved object's API group,
// for example "kustomize.toolkit.fluxcd.io/revision"; in a composed
// notification (see Rule.Notification) the prefix is gone.
const (
	// MetaOriginRevisionKey holds the origin revision of a source artifact.
	MetaOriginRevisionKey = "originRevision"
	// MetaChecksumKey holds a source artifact checksum (deprecated by
	// Flux in favour of MetaDigestKey); the event server drops it.
	MetaChecksumKey = "checksum"
	// MetaDigestKey holds a source artifact digest; the event server
	// drops it.
	MetaDigestKey = "digest"
	// MetaCommitKey holds a Git commit hash. Set as the object annotation
	// "event.toolkit.fluxcd.io/commit" it lets commit-status providers act
	// on all of the object's events.
	MetaCommitKey = "commit"
	// MetaCommitStatusKey marks an event as a commit status update when
	// its value is MetaCommitStatusUpdate.
	MetaCommitStatusKey = "commit_status"
	// MetaCommitStatusUpdate is the value of MetaCommitStatusKey that marks
	// a commit status update.
	MetaCommitStatusUpdate = "update"
	// MetaChangeRequestKey holds the number of a pull or merge request.
	// Set as the object annotation "event.toolkit.fluxcd.io/change_request"
	// it lets change-request providers act on the object's events.
	MetaChangeRequestKey = "change_request"
	// MetaSummaryKey is the key an Alert's Summary is stored under in a
	// composed notification.
	MetaSummaryKey = "summary"
)

// ObjectGroup returns the API group of the object ref points to, taken from
// its APIVersion: "kustomize.toolkit.fluxcd.io" for
// "kustomize.toolkit.fluxcd.io/v1", "" for "v1" or an empty APIVersion.
func ObjectGroup(ref ObjectReference) string {
	group, _, found := strings.Cut(ref.APIVersion, "/")
	if !found {
		return ""
	}
	return group
}

// objectMeta returns the metadata value of a controller key for e: the
// object-group-prefixed key when present, else the bare key (an
// in-process reporter may omit the prefix).
func objectMeta(e Event, key string) (string, bool) {
	if g := ObjectGroup(e.InvolvedObject); g != "" {
		if v, ok := e.Metadata[g+"/"+key]; ok {
			return v, true
		}
	}
	v, ok := e.Metadata[key]
	return v, ok
}

// Qualify returns a copy of e whose bare metadata keys (keys without a
// "/") carry the involved object's API group as prefix, which is the form
// Flux's controllers post and the only form a notification-controller
// keeps. Reporters in this SDK write bare keys (MetaRevisionKey, …);
// HTTPRecorder qualifies them before posting. Keys are left bare when the
// involved object has no API group in its APIVersion.
func Qualify(e Event) Event {
	g := ObjectGroup(e.InvolvedObject)
	if g == "" || len(e.Metadata) == 0 {
		return e
	}
	meta := make(map[string]string, len(e.Metadata))
	for k, v := range e.Metadata {
		if !strings.Contains(k, "/") {
			k = g + "/" + k
		}
		meta[k] = v
	}
	// A key present both bare and prefixed keeps the prefixed value, as
	// the prefixed one is what the controller itself wrote.
	for k, v := range e.Metadata {
		if strings.Contains(k, "/") {
			meta[k] = v
		}
	}
	e.Metadata = meta
	return e
}

// Normalize returns a copy of e with the metadata Flux's event server
// keeps for alerting: keys prefixed with EventGroup or with the involved
// object's API group, minus the object group's checksum, digest and token
// keys (compared case-insensitively, as Flux does). Bare keys are kept as
// the controller's own keys (Flux drops them: its controllers never send
// any), except the bare checksum, digest and token keys.
//
// Deduplication (DedupKey) needs the token, so compute keys before
// normalizing.
func Normalize(e Event) Event {
	if len(e.Metadata) == 0 {
		e.Metadata = nil
		return e
	}
	g := ObjectGroup(e.InvolvedObject)
	objPrefix := g + "/"
	meta := make(map[string]string, len(e.Metadata))
	for k, v := range e.Metadata {
		var rest string
		switch {
		case strings.HasPrefix(k, EventGroup+"/"):
			meta[k] = v
			continue
		case g != "" && strings.HasPrefix(k, objPrefix):
			rest = k[len(objPrefix):]
		case !strings.Contains(k, "/"):
			rest = k
		default:
			continue
		}
		if strings.EqualFold(rest, MetaChecksumKey) || strings.EqualFold(rest, MetaDigestKey) || rest == MetaTokenKey {
			continue
		}
		meta[k] = v
	}
	if len(meta) == 0 {
		meta = nil
	}
	e.Metadata = meta
	return e
}

// IsCommitStatusUpdate reports whether e is marked as a commit status
// update ("<object group>/commit_status: update", or the bare key). Flux
// delivers such events only to commit-status and generic providers; other
// providers skip them.
func IsCommitStatusUpdate(e Event) bool {
	v, _ := objectMeta(e, MetaCommitStatusKey)
	return v == MetaCommitStatusUpdate
}

// HasCommitAnnotation reports whether e carries a non-empty
// "event.toolkit.fluxcd.io/commit" key, copied from the involved object's
// annotation.
func HasCommitAnnotation(e Event) bool {
	return e.Metadata[EventGroup+"/"+MetaCommitKey] != ""
}

// HasChangeRequest reports whether e carries a non-empty
// "event.toolkit.fluxcd.io/change_request" key, copied from the involved
// object's annotation. Change-request providers act only on such events.
func HasChangeRequest(e Event) bool {
	return e.Metadata[EventGroup+"/"+MetaChangeRequestKey] != ""
}

// CommitStatusAccepts reports whether Flux hands e to a commit-status
// provider: when it carries the commit annotation, is a commit status
// update, or has error severity (failures are reported on the commit even
// though producers do not mark them as updates). Call it on the event as
// received, before Rule.Notification strips the prefixes.
func CommitStatusAccepts(e Event) bool {
	return HasCommitAnnotation(e) || IsCommitStatusUpdate(e) || e.Severity == SeverityError
}

// Revision returns the revision a commit-status provider reports on, from
// a composed notification's metadata: the commit key, else the origin
// revision, else the revision, as Flux looks them up. A commit-status
// provider fails an event without one.
func Revision(n Event) (string, bool) {
	for _, k := range []string{MetaCommitKey, MetaOriginRevisionKey, MetaRevisionKey} {
		if v, ok := n.Metadata[k]; ok {
			return v, true
		}
	}
	return "", false
}

// ChangeRequest returns the pull or merge request identifier from a
// composed notification's metadata.
func ChangeRequest(n Event) (string, bool) {
	v, ok := n.Metadata[MetaChangeRequestKey]
	return v, ok && v != ""
}

// ProviderClass is the kind of gate Flux applies before a provider of a
// given type sees an event.
type ProviderClass int

const (
	// ClassNotifier is every chat, incident and message-bus provider.
	ClassNotifier ProviderClass = iota
	// ClassGeneric is "generic" and "generic-hmac": they forward
	// everything, commit status updates included.
	ClassGeneric
	// ClassCommitStatus is github, gitlab, gitea, bitbucket,
	// bitbucketserver and azuredevops.
	ClassCommitStatus
	// ClassChangeRequest is githubpullrequestcomment,
	// gitlabmergerequestcomment and giteapullrequestcomment.
	ClassChangeRequest
)

// ClassOf returns the class of a Flux Provider type name (".spec.type").
// Unknown types are ClassNotifier.
func ClassOf(providerType string) ProviderClass {
	switch providerType {
	case "generic", "generic-hmac":
		return ClassGeneric
	case "github", "gitlab", "gitea", "bitbucketserver", "bitbucket", "azuredevops":
		return ClassCommitStatus
	case "githubpullrequestcomment", "gitlabmergerequestcomment", "giteapullrequestcomment":
		return ClassChangeRequest
	}
	return ClassNotifier
}

// Verdict is the outcome of Admit.
type Verdict int

const (
	// Deliver means the provider gets the event.
	Deliver Verdict = iota
	// SkipCommitStatusUpdate means the event is a commit status update
	// and the provider is neither a commit-status nor a generic one.
	SkipCommitStatusUpdate
	// DropNoCommit means a commit-status provider gets no event that is
	// not a commit status update, carries no commit annotation and is
	// not an error (Flux logs these as dropped).
	DropNoCommit
	// DropNoChangeRequest means a change-request provider gets no event
	// from an object without the change request annotation (Flux logs
	// these as dropped).
	DropNoChangeRequest
)

// String names the verdict.
func (v Verdict) String() string {
	switch v {
	case Deliver:
		return "deliver"
	case SkipCommitStatusUpdate:
		return "skip: commit status update"
	case DropNoCommit:
		return "drop: no commit metadata"
	case DropNoChangeRequest:
		return "drop: no change request metadata"
	}
	return "unknown"
}

// Admit applies Flux's provider gates, in Flux's order, to e as received
// (before composition): commit status updates reach only commit-status
// and generic providers; commit-status providers need CommitStatusAccepts;
// change-request providers need HasChangeRequest.
func Admit(class ProviderClass, e Event) Verdict {
	if class != ClassCommitStatus && class != ClassGeneric && IsCommitStatusUpdate(e) {
		return SkipCommitStatusUpdate
	}
	if class == ClassCommitStatus && !CommitStatusAccepts(e) {
		return DropNoCommit
	}
	if class == ClassChangeRequest && !HasChangeRequest(e) {
		return DropNoChangeRequest
	}
	return Deliver
}
