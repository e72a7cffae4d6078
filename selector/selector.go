package selector

// Selector picks objects. Empty fields match everything. Group, Version,
// Kind, Name and Namespace are regular expressions matched against the
// whole value (as kustomize matches patch targets); LabelSelector and
// AnnotationSelector use Kubernetes label-selector syntax
// ("app=web,tier!=db").
type Selector struct {
	Group              string `json:"group,omitempty"`
	Version            string `json:"version,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Name               string `json:"name,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	LabelSelector      string `json:"labelSelector,omitempty"`
	AnnotationSelector string `json:"annotationSelector,omitempty"`
}

// IsZero reports whether s matches every object.
func (s Selector) IsZero() bool { return s == Selector{} }
