package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/notify"
)

const (
	testHubKeyName = "RootManageSharedAccessKey"
	testHubKey     = "c2VjcmV0LXNoYXJlZC1hY2Nlc3Mta2V5LWZvci10ZXN0cw=="
)

// verifySAS checks an Authorization header as the Event Hubs service
// does: the resource, the key name, an expiry in the future and the
// HMAC-SHA256 of "<url-encoded resource>\n<expiry>" keyed with the
// shared access key's text.
func verifySAS(header, resource, keyName, key string, now time.Time) error {
	rest, ok := strings.CutPrefix(header, "SharedAccessSignature ")
	if !ok {
		return errors.New("not a SharedAccessSignature")
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, "&") {
		k, v, _ := strings.Cut(kv, "=")
		fields[k] = v
	}
	sr, err := url.QueryUnescape(fields["sr"])
	if err != nil || sr != resource {
		return errors.New("sr is " + fields["sr"] + ", want " + resource)
	}
	if skn, _ := url.QueryUnescape(fields["skn"]); skn != keyName {
		return errors.New("skn is " + skn)
	}
	se, err := strconv.ParseInt(fields["se"], 10, 64)
	if err != nil || se <= now.Unix() || se > now.Add(2*time.Hour).Unix() {
		return errors.New("se is " + fields["se"])
	}
	sig, err := url.QueryUnescape(fields["sig"])
	if err != nil {
		return err
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(url.QueryEscape(resource) + "\n" + fields["se"]))
	if !hmac.Equal(got, m.Sum(nil)) {
		return errors.New("signature mismatch")
	}
	return nil
}

func TestAzureEventHubSAS(t *testing.T) {
	const resource = "https://contoso.servicebus.windows.net/flux-events"
	s := newSink(t, func(r recorded) (int, string) {
		if err := verifySAS(r.Header.Get("Authorization"), resource, testHubKeyName, testHubKey, time.Now()); err != nil {
			return http.StatusUnauthorized, `<Error><Code>401</Code><Detail>` + err.Error() + `</Detail></Error>`
		}
		return http.StatusCreated, ""
	})
	u, _ := url.Parse(s.srv.URL)
	cs := "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=" + testHubKeyName + ";SharedAccessKey=" + testHubKey + ";EntityPath=flux-events"
	snd, err := New(Config{Type: TypeAzureEventHub, Address: cs, Transport: redirect{sink: u}, Retry: Retry{Max: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	r := s.requests()[0]
	if r.Method != "POST" || r.Host != "contoso.servicebus.windows.net" || r.Path != "/flux-events/messages" {
		t.Errorf("request %s %s%s", r.Method, r.Host, r.Path)
	}
	if q, _ := url.ParseQuery(r.Query); q.Get("api-version") != "2014-01" {
		t.Errorf("query %q has no api-version=2014-01", r.Query)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/atom+xml;type=entry;charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	var got notify.Event
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("body is not an event: %v", err)
	}
	if diff := cmp.Diff(testEvent(), got); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}

	// The sink's check can fail: a wrong key is refused, and the error
	// holds neither the key nor the connection string.
	bad := strings.Replace(cs, testHubKey, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=", 1)
	snd, err = New(Config{Type: TypeAzureEventHub, Address: bad, Transport: redirect{sink: u}, Retry: Retry{Max: 3, MinWait: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	err = snd.Post(context.Background(), testEvent())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "signature mismatch") {
		t.Fatalf("wrong key: %v, want a 401 signature mismatch", err)
	}
	if strings.Contains(err.Error(), "d3Jvbmcta2V5") {
		t.Errorf("error contains the key: %v", err)
	}
	if n := len(s.requests()); n != 2 {
		t.Errorf("a 401 was retried: %d requests in all", n)
	}
}

func TestAzureEventHubGivenSAS(t *testing.T) {
	sas := SignEventHubSAS("https://contoso.servicebus.windows.net/hub", "send-only", testHubKey, time.Now().Add(time.Hour))
	s := newSink(t, func(r recorded) (int, string) {
		if err := verifySAS(r.Header.Get("Authorization"), "https://contoso.servicebus.windows.net/hub", "send-only", testHubKey, time.Now()); err != nil {
			return http.StatusUnauthorized, err.Error()
		}
		return http.StatusCreated, ""
	})
	u, _ := url.Parse(s.srv.URL)
	snd, err := New(Config{Type: TypeAzureEventHub, Transport: redirect{sink: u},
		Address: "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessSignature=" + sas + ";EntityPath=hub"})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if h := s.requests()[0].Header.Get("Authorization"); h != sas {
		t.Errorf("Authorization %q, want the given SAS", h)
	}
}

func TestAzureEventHubRetry(t *testing.T) {
	n := 0
	s := newSink(t, func(recorded) (int, string) {
		if n++; n == 1 {
			return http.StatusServiceUnavailable, "busy"
		}
		return http.StatusCreated, ""
	})
	u, _ := url.Parse(s.srv.URL)
	snd, err := New(Config{Type: TypeAzureEventHub, Address: "hub", Channel: "contoso.servicebus.chinacloudapi.cn", Token: "tok",
		Transport: redirect{sink: u}, Retry: Retry{Max: 2, MinWait: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	reqs := s.requests()
	if len(reqs) != 2 || reqs[1].Host != "contoso.servicebus.chinacloudapi.cn" {
		t.Errorf("requests: %+v", reqs)
	}
}

func TestAzureEventHubConfig(t *testing.T) {
	const key = "SharedAccessKey=topsecretkey"
	for _, tt := range []struct {
		cfg   Config
		field string
	}{
		{Config{}, "Address"},
		{Config{Address: "hub", Token: "t"}, "Channel"},
		{Config{Address: "hub", Channel: "ns"}, "Token"},
		{Config{Address: "a/b", Channel: "ns", Token: "t"}, "Address"},
		{Config{Address: "hub", Channel: "ns/x", Token: "t"}, "Channel"},
		{Config{Address: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;" + key}, "EntityPath"},
		{Config{Address: "SharedAccessKeyName=k;" + key + ";EntityPath=h"}, "Endpoint"},
		{Config{Address: "Endpoint=sb://ns.servicebus.windows.net/;" + key + ";EntityPath=h"}, "SharedAccessKeyName"},
		{Config{Address: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;" + key + ";EntityPath=h", Token: "t"}, "Token"},
		{Config{Address: "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessSignature=sig;EntityPath=h"}, "SharedAccessSignature"},
	} {
		tt.cfg.Type = TypeAzureEventHub
		_, err := New(tt.cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("New(%q, %q) = %v, want an invalid-config error naming %s", tt.cfg.Address, tt.cfg.Channel, err, tt.field)
			continue
		}
		if strings.Contains(err.Error(), "topsecretkey") {
			t.Errorf("error contains the key: %v", err)
		}
	}
}

// FuzzAzureEventHubAddress feeds New arbitrary addresses: it must not
// panic, and its errors must not echo a shared access key.
func FuzzAzureEventHubAddress(f *testing.F) {
	f.Add("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=fuzzsecret;EntityPath=h", "")
	f.Add("hub", "ns")
	f.Add("Endpoint=;SharedAccessKey=fuzzsecret;;=;EntityPath=a/b", "x")
	f.Fuzz(func(t *testing.T, address, channel string) {
		_, err := New(Config{Type: TypeAzureEventHub, Address: address, Channel: channel, Token: "tok"})
		if err != nil && strings.Contains(address, "SharedAccessKey=fuzzsecret") && strings.Contains(err.Error(), "fuzzsecret") {
			t.Errorf("error echoes the key: %v", err)
		}
	})
}
