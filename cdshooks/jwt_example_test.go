package cdshooks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"valuerx/cdshooks"
)

// A CDS service trusts one client, the client mints a token for the
// service URL, and the service verifies it. A second use of the same token
// is refused as a replay; the gateway answers any refusal with 401.
func ExampleVerifier() {
	key, err := cdshooks.GenerateES384()
	if err != nil {
		panic(err)
	}
	client, err := cdshooks.NewSigner(key, "https://ehr.example.org", "ehr-key-1")
	if err != nil {
		panic(err)
	}
	v, err := cdshooks.NewVerifier(cdshooks.VerifierConfig{
		Clients: []cdshooks.TrustedClient{client.TrustedClient()},
	})
	if err != nil {
		panic(err)
	}
	const aud = "https://cds.example.org/cds-services/valuerx-order-sign"
	token, err := client.Mint(aud, 5*time.Minute, nil)
	if err != nil {
		panic(err)
	}
	header := "Bearer " + token

	claims, err := v.Verify(context.Background(), cdshooks.BearerToken(header), aud)
	fmt.Println(claims.Issuer, claims.Algorithm, claims.KeyID, err)

	_, err = v.Verify(context.Background(), cdshooks.BearerToken(header), aud)
	var ae *cdshooks.AuthError
	fmt.Println(errors.Is(err, cdshooks.ErrUnauthorized), errors.As(err, &ae) && ae.Reason == cdshooks.ReasonReplay)
	// Output:
	// https://ehr.example.org ES384 ehr-key-1 <nil>
	// true true
}
