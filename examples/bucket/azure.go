package bucket

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/source/bucket/azureblob"
)

// The keys of a secretRef Secret for a Bucket with provider "azure", as
// Flux names them.
const (
	azureClientID                   = "clientId"
	azureTenantID                   = "tenantId"
	azureClientSecret               = "clientSecret"
	azureClientCertificate          = "clientCertificate"
	azureClientCertificatePassword  = "clientCertificatePassword"
	azureClientCertificateSendChain = "clientCertificateSendChain"
	azureAuthorityHost              = "authorityHost"
	azureAccountKey                 = "accountKey"
	azureSASKey                     = "sasKey"
)

// AzureOptions maps the spec of a Bucket with provider "azure" and the
// data of its secretRef Secret (nil or empty without one) to azureblob.Options,
// without TLS or proxy (see AzureTLS and AzureProxy). spec.endpoint is
// the account's blob service URL and spec.bucketName the container.
//
// The Secret's keys are Flux's, tried in Flux's order:
//
//   - "tenantId", "clientId" and "clientSecret": a Microsoft Entra ID
//     service principal with a secret;
//   - "tenantId", "clientId" and "clientCertificate" (PEM or PKCS#12,
//     with "clientCertificatePassword" and "clientCertificateSendChain"
//     optional): a service principal with a certificate;
//   - "clientId" alone: the user-assigned managed identity with that
//     client ID;
//   - "accountKey": the account's shared key, for the account named by
//     the endpoint (its host's first label, or the first path segment of
//     an IP or localhost endpoint, so that an emulator works too);
//   - "sasKey": a SAS token, merged with the endpoint's query string as
//     Flux does (the token's parameters win).
//
// "authorityHost" sets the Entra ID authority of the service principal
// credentials (a sovereign cloud). Without a Secret the container is read
// anonymously (a SAS token in the endpoint's query string still applies);
// Flux would also try the controller's environment and managed identity,
// which this controller does not read. An endpoint without a scheme is
// taken as https (http with spec.insecure); an http endpoint needs
// spec.insecure, where Flux does not ask for it.
//
// Errors name the Secret key or spec field at fault, never a value.
func AzureOptions(spec sourcev1.BucketSpec, secret map[string][]byte) (azureblob.Options, error) {
	o := azureblob.Options{Container: spec.BucketName, Insecure: spec.Insecure}
	endpoint := strings.TrimSpace(spec.Endpoint)
	if endpoint == "" {
		return o, errors.New("spec.endpoint is not set: want the account's blob service URL, such as https://<account>.blob.core.windows.net")
	}
	if !strings.Contains(endpoint, "://") {
		scheme := "https://"
		if spec.Insecure {
			scheme = "http://"
		}
		endpoint = scheme + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return o, errors.New("spec.endpoint is not a URL such as https://<account>.blob.core.windows.net")
	}
	// A SAS token may sit in the endpoint's query string, as Flux allows.
	sas := u.Query()
	u.RawQuery, u.ForceQuery = "", false
	o.Endpoint = u.String()

	get := func(key string) string { return strings.TrimSpace(string(secret[key])) }
	has := func(key string) bool { return get(key) != "" }

	var cloudConf cloud.Configuration
	if has(azureAuthorityHost) {
		ah, err := url.Parse(get(azureAuthorityHost))
		if err != nil || ah.Scheme != "https" || ah.Host == "" {
			return o, fmt.Errorf("'%s' is not an https URL", azureAuthorityHost)
		}
		cloudConf.ActiveDirectoryAuthorityHost = get(azureAuthorityHost)
	}
	tenantID, clientID := get(azureTenantID), get(azureClientID)
	switch {
	case len(secret) == 0:
	case tenantID != "" && clientID != "" && has(azureClientSecret):
		o.Credential, err = azidentity.NewClientSecretCredential(tenantID, clientID, get(azureClientSecret),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{Cloud: cloudConf}})
		if err != nil {
			return o, fmt.Errorf("'%s' or '%s' is not valid (a tenant is a GUID or a domain name)", azureTenantID, azureClientID)
		}
	case tenantID != "" && clientID != "" && has(azureClientCertificate):
		var password []byte
		if p, ok := secret[azureClientCertificatePassword]; ok {
			password = p
		}
		certs, key, err := azidentity.ParseCertificates(secret[azureClientCertificate], password)
		if err != nil {
			return o, fmt.Errorf("'%s' holds no certificate and private key that can be read (PEM, or PKCS#12 with '%s')",
				azureClientCertificate, azureClientCertificatePassword)
		}
		sendChain := false
		if v, ok := secret[azureClientCertificateSendChain]; ok {
			s := strings.ToLower(strings.TrimSpace(string(v)))
			switch s {
			case "1", "true":
				sendChain = true
			case "", "0", "false":
			default:
				return o, fmt.Errorf("'%s' is not true or false", azureClientCertificateSendChain)
			}
		}
		o.Credential, err = azidentity.NewClientCertificateCredential(tenantID, clientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{
				ClientOptions:        azcore.ClientOptions{Cloud: cloudConf},
				SendCertificateChain: sendChain,
			})
		if err != nil {
			return o, fmt.Errorf("'%s', '%s' or '%s' is not valid (a tenant is a GUID or a domain name)", azureTenantID, azureClientID, azureClientCertificate)
		}
	case tenantID != "" && clientID != "":
		return o, fmt.Errorf("'%s' and '%s' need '%s' or '%s'", azureTenantID, azureClientID, azureClientSecret, azureClientCertificate)
	case tenantID != "":
		return o, fmt.Errorf("'%s' needs '%s', and '%s' or '%s'", azureTenantID, azureClientID, azureClientSecret, azureClientCertificate)
	case clientID != "":
		o.Credential, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			ID: azidentity.ClientID(clientID),
		})
		if err != nil {
			return o, fmt.Errorf("'%s': no managed identity credential for it", azureClientID)
		}
	case has(azureAccountKey):
		o.AccountKey = get(azureAccountKey)
		name, err := azureblob.AccountName(o.Endpoint)
		if err != nil {
			return o, fmt.Errorf("'%s' needs the account name from spec.endpoint: %w", azureAccountKey, err)
		}
		o.AccountName = name
	case has(azureSASKey):
		token, err := url.ParseQuery(strings.TrimPrefix(get(azureSASKey), "?"))
		if err != nil || token.Get("sig") == "" {
			return o, fmt.Errorf("'%s' is not a SAS token (a query string with a 'sig' parameter)", azureSASKey)
		}
		for k, vs := range sas {
			if !token.Has(k) {
				token[k] = vs
			}
		}
		sas = token
	case has(azureClientSecret), has(azureClientCertificate):
		return o, fmt.Errorf("'%s' and '%s' need '%s' and '%s'", azureClientSecret, azureClientCertificate, azureTenantID, azureClientID)
	default:
		return o, fmt.Errorf("the Secret holds none of '%s', '%s', '%s' (with '%s' and '%s' or '%s')",
			azureAccountKey, azureSASKey, azureClientID, azureTenantID, azureClientSecret, azureClientCertificate)
	}
	if len(sas) > 0 {
		if o.AccountKey != "" || o.Credential != nil {
			return o, errors.New("spec.endpoint holds a query string (a SAS token) and the Secret another credential: use one")
		}
		o.SASToken = sas.Encode()
	}
	return o, nil
}

// AzureTLS sets the CA trusted for the endpoint from a certSecretRef
// Secret's data ("ca.crt"). Client certificates are refused: Azure Blob
// Storage does not ask for one.
func AzureTLS(o *azureblob.Options, data map[string][]byte) error {
	ca, err := serverCA(data)
	if err == nil {
		o.CA = ca
	}
	return err
}

// AzureProxy sets the proxy of o from a proxySecretRef Secret's data. It
// applies to the traffic with the storage account, not to the Entra ID
// credentials' requests to their authority.
func AzureProxy(o *azureblob.Options, data map[string][]byte) error {
	p, err := proxyOf(data)
	if err == nil {
		o.Proxy = p
	}
	return err
}
