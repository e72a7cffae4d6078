// Package azureblob is the Azure Blob Storage Provider for package bucket,
// as a Flux Bucket with provider "azure" reads a container.
//
// New takes the storage account's blob service URL as Endpoint
// ("https://<account>.blob.core.windows.net", or an emulator's
// "http://127.0.0.1:10000/devstoreaccount1" with Insecure), the container
// (a Flux Bucket's spec.bucketName) and one way to authenticate:
//
//   - a shared key: AccountKey, with AccountName or the account named by
//     the endpoint (first label of the host, or the first path segment of
//     an IP or localhost endpoint);
//   - a SAS token: SASToken, the query string of a shared access
//     signature granting at least read and list on the container;
//   - Microsoft Entra ID: Credential, any azcore.TokenCredential (for
//     example one of package azidentity's service principal, workload or
//     managed identity credentials, which this package does not link so
//     that programs pay for it only when they use it);
//   - none of them: anonymous access to a public container.
//
// Then it is used as any Provider:
//
//	p, err := azureblob.New(azureblob.Options{
//		Endpoint:   "https://example.blob.core.windows.net",
//		Container:  "manifests",
//		AccountKey: key,
//	})
//	snap, err := (&bucket.Bucket{Provider: p}).Fetch(ctx, dir, last)
//
// List pages through the container's flat listing (Options.PageSize
// names per request, 5,000 by default, the service's maximum). ETags
// are reported as Flux's azure provider indexes them, the hexadecimal
// encoding of the blob's ETag without quotes, so that a revision computed
// here equals the one a Flux source-controller reports for the same
// container on Azure. Get reports the ETag of the download in the same
// form.
//
// Traffic is HTTPS verified against the system roots plus Options.CA;
// plain HTTP needs Insecure, and then shared keys and tokens are sent in
// clear (which only an emulator on the loopback interface should accept).
// A proxy is used only when Options.Proxy says so (the environment is not
// read). Deadlines and cancellation come from the context given to List
// and Get; failed requests are retried by the SDK's policy (MaxRetries).
//
// Azurite, the storage emulator, serves this provider when started with
// --skipApiVersionCheck (the SDK speaks a newer service version than
// Azurite 3.35 declares); this package's tests run against it.
//
// Errors are *bucket.Error values (source.Error) that unwrap to
// source.ErrAuth (a wrong key or signature, a token that cannot be
// obtained, a missing permission), source.ErrNotFound (no such
// container), source.ErrNetwork, source.ErrInvalid (configuration) or
// bucket.ErrObjectNotFound (a blob deleted after the listing). Their text
// holds no account key, SAS token or token, and no URL query string.
package azureblob
