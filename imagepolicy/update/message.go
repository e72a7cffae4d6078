package update

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// DefaultMessageTemplate is the commit message when the template is empty,
// as in Flux.
const DefaultMessageTemplate = "Update from image update automation"

// NamespacedName names the automation object; it prints as
// "namespace/name".
type NamespacedName struct {
	Namespace string
	Name      string
}

// String returns "namespace/name".
func (n NamespacedName) String() string { return n.Namespace + "/" + n.Name }

// TemplateData is the value the commit message template sees, as Flux's:
// .AutomationObject, .Changed (the Result: .Changed.FileChanges,
// .Changed.Objects, .Changed.Changes) and .Values (the
// messageTemplateValues).
type TemplateData struct {
	AutomationObject NamespacedName
	Changed          Result
	Values           map[string]string
}

// maxMessage caps a rendered message.
const maxMessage = 1 << 20

// CommitMessage renders a Go text/template with Sprig's hermetic functions
// (those whose result depends only on their input, as Flux allows). An
// empty template gives DefaultMessageTemplate. A template that does not
// parse, fails or renders more than 1 MiB is an error.
func CommitMessage(tmpl string, data TemplateData) (msg string, err error) {
	defer func() {
		if r := recover(); r != nil {
			msg, err = "", fmt.Errorf("commit message template failed: %v", r)
		}
	}()
	if tmpl == "" {
		tmpl = DefaultMessageTemplate
	}
	t, err := template.New("commit message").Funcs(sprig.HermeticTxtFuncMap()).Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("commit message template does not parse: %w", err)
	}
	var b cappedBuilder
	if err := t.Execute(&b, data); err != nil {
		if strings.Contains(err.Error(), "can't evaluate field Updated") || strings.Contains(err.Error(), "can't evaluate field ImageResult") {
			return "", fmt.Errorf("commit message template uses a field Flux removed (.Updated, .Changed.ImageResult); use .Changed.FileChanges or .Changed.Objects: %w", err)
		}
		return "", fmt.Errorf("commit message template failed: %w", err)
	}
	return b.String(), nil
}

// cappedBuilder is a strings.Builder that refuses to grow past maxMessage.
type cappedBuilder struct{ strings.Builder }

func (c *cappedBuilder) Write(p []byte) (int, error) {
	if c.Len()+len(p) > maxMessage {
		return 0, fmt.Errorf("commit message is longer than %d bytes", maxMessage)
	}
	return c.Builder.Write(p)
}
