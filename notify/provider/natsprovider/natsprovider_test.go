package natsprovider_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/notify/provider/natsprovider"
)

const (
	user     = "flux"
	password = "s3cr3t-nats-passw0rd"
	token    = "t0ken-for-nats-4f9a2c"
	subject  = "flux.events"
)

func testEvent() notify.Event {
	return notify.Event{
		InvolvedObject: notify.ObjectReference{
			Kind: "Kustomization", Namespace: "flux-system", Name: "apps",
			APIVersion: "kustomize.toolkit.fluxcd.io/v1", UID: "5c1a",
		},
		Severity:            notify.SeverityInfo,
		Timestamp:           time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
		Message:             "Applied revision: main@sha1:0123456789abcdef",
		Reason:              "ReconciliationSucceeded",
		Metadata:            map[string]string{"revision": "main@sha1:0123456789abcdef", "summary": "prod"},
		ReportingController: "kustomize-controller",
	}
}

// subscribe connects with opts and returns a synchronous subscription to
// subject, flushed so that it is registered before anything is published.
func subscribe(t *testing.T, addr string, opts ...nats.Option) *nats.Subscription {
	t.Helper()
	nc, err := nats.Connect("nats://"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// checkDelivered waits for the message and compares its payload with the
// event's JSON (Flux's payload: the event, marshalled as is).
func checkDelivered(t *testing.T, sub *nats.Subscription, e notify.Event) *nats.Msg {
	t.Helper()
	msg, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no message on %s: %v", subject, err)
	}
	want, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != string(want) {
		t.Errorf("payload:\n got %s\nwant %s", msg.Data, want)
	}
	var got notify.Event
	if err := json.Unmarshal(msg.Data, &got); err != nil {
		t.Fatalf("payload is not an event: %v", err)
	}
	if d := cmp.Diff(e, got); d != "" {
		t.Errorf("decoded event (-want +got):\n%s", d)
	}
	var fields map[string]any
	_ = json.Unmarshal(msg.Data, &fields)
	for _, k := range []string{"involvedObject", "severity", "timestamp", "message", "reason", "metadata", "reportingController"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("payload lacks Flux's field %q", k)
		}
	}
	return msg
}

func TestPostUserPassword(t *testing.T) {
	addr := startServer(t, "", "--user", user, "--pass", password)
	sub := subscribe(t, addr, nats.UserInfo(user, password))
	s, err := provider.New(provider.Config{
		Type:     provider.TypeNATS,
		Address:  "nats://" + addr,
		Channel:  subject,
		Username: user,
		Password: password,
		Headers:  map[string]string{"X-Cluster": "prod"},
	}, natsprovider.Option())
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	if err := s.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	msg := checkDelivered(t, sub, e)
	if got := msg.Header.Get("X-Cluster"); got != "prod" {
		t.Errorf("header X-Cluster = %q, want prod", got)
	}
}

func TestPostCredentialsInAddress(t *testing.T) {
	addr := startServer(t, "", "--user", user, "--pass", password)
	sub := subscribe(t, addr, nats.UserInfo(user, password))
	s, err := natsprovider.New(provider.Config{
		Type:    provider.TypeNATS,
		Address: "nats://" + user + ":" + password + "@" + addr,
		Channel: subject,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	if err := s.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, sub, e)
}

func TestPostToken(t *testing.T) {
	addr := startServer(t, "", "--auth", token)
	sub := subscribe(t, addr, nats.Token(token))
	s, err := natsprovider.New(provider.Config{
		Type:    provider.TypeNATS,
		Address: "nats://" + addr,
		Channel: subject,
		Token:   token,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	e.Severity = notify.SeverityError
	if err := s.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, sub, e)
}

// checkNoSecret fails when err's text holds a credential.
func checkNoSecret(t *testing.T, err error) {
	t.Helper()
	t.Logf("error: %v", err)
	for _, s := range []string{password, token, "passw0rd", "wrong-" + password} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error contains a credential: %v", err)
		}
	}
}

func TestAuthFailure(t *testing.T) {
	addr := startServer(t, "", "--user", user, "--pass", password)
	// An hour between retries: a retried authentication failure would end
	// in the timeout instead of ErrAuth.
	retry := provider.Retry{Max: 3, MinWait: time.Hour}
	for name, cfg := range map[string]provider.Config{
		"wrong password": {Username: user, Password: "wrong-" + password},
		"no credentials": {},
		"token instead":  {Token: token},
		"in address":     {Address: "nats://" + user + ":wrong-" + password + "@" + addr},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Type = provider.TypeNATS
			if cfg.Address == "" {
				cfg.Address = "nats://" + addr
			}
			cfg.Channel = subject
			cfg.Retry = retry
			cfg.Timeout = 20 * time.Second
			s, err := natsprovider.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Post(context.Background(), testEvent())
			if err == nil {
				t.Fatal("Post succeeded with wrong credentials")
			}
			if !errors.Is(err, natsprovider.ErrAuth) {
				t.Errorf("error does not wrap ErrAuth: %v", err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("authentication failure was retried: %v", err)
			}
			checkNoSecret(t, err)
		})
	}
}

func TestPublishPermissionViolation(t *testing.T) {
	conf := `authorization {
  users = [
    {user: "` + user + `", password: "` + password + `", permissions: {publish: {deny: ["` + subject + `"]}, subscribe: ">"}}
  ]
}
`
	addr := startServer(t, conf)
	s, err := natsprovider.New(provider.Config{
		Type:     provider.TypeNATS,
		Address:  "nats://" + addr,
		Channel:  subject,
		Username: user,
		Password: password,
		Retry:    provider.Retry{Max: 3, MinWait: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Post(context.Background(), testEvent())
	if !errors.Is(err, natsprovider.ErrAuth) {
		t.Fatalf("Post to a denied subject: got %v, want ErrAuth", err)
	}
	checkNoSecret(t, err)
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s, err := natsprovider.New(provider.Config{
		Type:    provider.TypeNATS,
		Address: "nats://" + user + ":" + password + "@" + addr,
		Channel: subject,
		Retry:   provider.Retry{Max: 2, MinWait: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Post(context.Background(), testEvent())
	if err == nil {
		t.Fatal("Post to a closed port succeeded")
	}
	if errors.Is(err, natsprovider.ErrAuth) {
		t.Errorf("connection refused reported as an authentication failure: %v", err)
	}
	checkNoSecret(t, err)
}

func TestPostHonoursContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s, err := natsprovider.New(provider.Config{
		Type:    provider.TypeNATS,
		Address: "nats://" + addr,
		Channel: subject,
		Retry:   provider.Retry{MinWait: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Post(ctx, testEvent()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's deadline", err)
	}
}

func TestNewRefusesConfig(t *testing.T) {
	base := provider.Config{Type: provider.TypeNATS, Address: "nats://127.0.0.1:4222", Channel: subject}
	for name, tc := range map[string]struct {
		mod   func(*provider.Config)
		field string
	}{
		"no address":      {func(c *provider.Config) { c.Address = "" }, "Address"},
		"http address":    {func(c *provider.Config) { c.Address = "https://" + token + "@example.com" }, "Address"},
		"no host":         {func(c *provider.Config) { c.Address = "nats://" }, "Address"},
		"no channel":      {func(c *provider.Config) { c.Channel = "" }, "Channel"},
		"spaced channel":  {func(c *provider.Config) { c.Channel = "a b" }, "Channel"},
		"proxy":           {func(c *provider.Config) { c.Proxy = "http://proxy:3128" }, "Proxy"},
		"password alone":  {func(c *provider.Config) { c.Password = password }, "Username"},
		"negative wait":   {func(c *provider.Config) { c.Retry.MinWait = -1 }, "Retry"},
		"negative timout": {func(c *provider.Config) { c.Timeout = -1 }, "Timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			_, err := natsprovider.New(cfg)
			if !errors.Is(err, provider.ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error does not name %s: %v", tc.field, err)
			}
			checkNoSecret(t, err)
		})
	}
	if _, err := natsprovider.New(provider.Config{Type: provider.TypeSlack, Address: base.Address, Channel: subject}); !errors.Is(err, provider.ErrUnsupportedType) {
		t.Errorf("slack config: got %v, want ErrUnsupportedType", err)
	}
}

func TestProviderNewNeedsOption(t *testing.T) {
	cfg := provider.Config{Type: provider.TypeNATS, Address: "nats://127.0.0.1:4222", Channel: subject}
	if _, err := provider.New(cfg); !errors.Is(err, provider.ErrUnsupportedType) {
		t.Errorf("provider.New without the option: got %v, want ErrUnsupportedType", err)
	}
	if _, err := provider.New(cfg, natsprovider.Option()); err != nil {
		t.Errorf("provider.New with the option: %v", err)
	}
	// Other types are still served by provider itself.
	if _, err := provider.New(provider.Config{Type: provider.TypeGeneric, Address: "https://example.com/hook"}, natsprovider.Option()); err != nil {
		t.Errorf("generic with the option: %v", err)
	}
}
