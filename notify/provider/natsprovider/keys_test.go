package natsprovider_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/notify/provider/natsprovider"
)

func newUser(t *testing.T) (pub string, seed []byte) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err = kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err = kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return pub, seed
}

// checkNoKey fails when err's text holds any of the secrets.
func checkNoKey(t *testing.T, err error, secrets ...[]byte) {
	t.Helper()
	t.Logf("error: %v", err)
	for _, s := range secrets {
		if len(s) > 0 && strings.Contains(err.Error(), string(s)) {
			t.Errorf("error contains a key: %v", err)
		}
	}
}

func TestPostNKey(t *testing.T) {
	pub, seed := newUser(t)
	addr := startServer(t, `authorization { users = [ {nkey: "`+pub+`"} ] }`+"\n")
	kp, _ := nkeys.FromSeed(seed)
	sub := subscribe(t, addr, nats.Nkey(pub, kp.Sign))
	cfg := provider.Config{
		Type:       provider.TypeNATS,
		Address:    "nats://" + addr,
		Channel:    subject,
		SecretData: map[string][]byte{natsprovider.SecretKeyNKey: append(append([]byte{}, seed...), '\n')},
		// The NKey takes precedence over a user and password, as in Flux.
		Username: user,
		Password: password,
	}
	s, err := provider.New(cfg, natsprovider.Option())
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	if err := s.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, sub, e)

	// Another user's key is refused, and not retried.
	_, other := newUser(t)
	cfg.SecretData = map[string][]byte{natsprovider.SecretKeyNKey: other}
	cfg.Retry = provider.Retry{Max: 3, MinWait: 1 << 62}
	s, err = natsprovider.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Post(context.Background(), e)
	if !errors.Is(err, natsprovider.ErrAuth) {
		t.Fatalf("unknown NKey: got %v, want ErrAuth", err)
	}
	checkNoKey(t, err, other, seed, []byte(password))
}

// operator returns a server configuration in operator mode trusting one
// account, and a function that writes credentials files for users of a
// given account.
func operator(t *testing.T) (conf string, account nkeys.KeyPair, creds func(account nkeys.KeyPair) []byte) {
	t.Helper()
	okp, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	opub, _ := okp.PublicKey()
	ojwt, err := jwt.NewOperatorClaims(opub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	akp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	apub, _ := akp.PublicKey()
	ajwt, err := jwt.NewAccountClaims(apub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	conf = "operator: " + ojwt + "\nresolver: MEMORY\nresolver_preload: {\n  " + apub + ": " + ajwt + "\n}\n"
	creds = func(account nkeys.KeyPair) []byte {
		t.Helper()
		upub, seed := newUser(t)
		ujwt, err := jwt.NewUserClaims(upub).Encode(account)
		if err != nil {
			t.Fatal(err)
		}
		b, err := jwt.FormatUserConfig(ujwt, seed)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return conf, akp, creds
}

func TestPostUserCredentials(t *testing.T) {
	conf, account, creds := operator(t)
	addr := startServer(t, conf)
	good := creds(account)
	sub := subscribe(t, addr, nats.UserCredentialBytes(creds(account)))
	_, nkeySeed := newUser(t)
	cfg := provider.Config{
		Type:    provider.TypeNATS,
		Address: "nats://" + addr,
		Channel: subject,
		// The credentials take precedence over an NKey, as in Flux.
		SecretData: map[string][]byte{natsprovider.SecretKeyCreds: good, natsprovider.SecretKeyNKey: nkeySeed},
	}
	s, err := provider.New(cfg, natsprovider.Option())
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	if err := s.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, sub, e)

	// A user of an account the operator never signed is refused.
	stranger, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	bad := creds(stranger)
	cfg.SecretData = map[string][]byte{natsprovider.SecretKeyCreds: bad}
	cfg.Retry = provider.Retry{Max: 3, MinWait: 1 << 62}
	s, err = natsprovider.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Post(context.Background(), e)
	if !errors.Is(err, natsprovider.ErrAuth) {
		t.Fatalf("credentials of an unknown account: got %v, want ErrAuth", err)
	}
	kp, _ := nkeys.ParseDecoratedUserNKey(bad)
	badSeed, _ := kp.Seed()
	checkNoKey(t, err, badSeed, bad)
}

func TestNewRefusesKeys(t *testing.T) {
	_, seed := newUser(t)
	akp, _ := nkeys.CreateAccount()
	accountSeed, _ := akp.Seed()
	for name, data := range map[string]map[string][]byte{
		"nkey not a seed":      {natsprovider.SecretKeyNKey: []byte("SUAnotaseed")},
		"account seed as nkey": {natsprovider.SecretKeyNKey: accountSeed},
		"creds without seed":   {natsprovider.SecretKeyCreds: []byte("-----BEGIN NATS USER JWT-----\neyJhbGciOi.x.y\n------END NATS USER JWT------\n")},
		"creds not a file":     {natsprovider.SecretKeyCreds: seed[:10]},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := natsprovider.New(provider.Config{Type: provider.TypeNATS, Address: "nats://127.0.0.1:4222", Channel: subject, SecretData: data})
			if !errors.Is(err, provider.ErrInvalidConfig) || !strings.Contains(err.Error(), "SecretData") {
				t.Fatalf("got %v, want ErrInvalidConfig naming SecretData", err)
			}
			checkNoKey(t, err, seed, accountSeed, seed[:10])
		})
	}
}
