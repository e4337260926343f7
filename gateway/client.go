package gateway

import (
	"context"

	"valuerx/cdshooks"
	"valuerx/store"
)

// clientOf is the verified CDS client of a request: the JWT iss, plus the tenant claim when the
// token carried one (one EHR vendor may host several health systems under one issuer). The
// authentication middleware puts the verified claims in the context; without a Verifier
// (authentication off: tests and the local demo only) every caller is the same anonymous client.
//
// Every cache entry, decision and feedback row is keyed by it, so one trusted client can never
// read, steer or spend another's data (issue 11).
func clientOf(ctx context.Context) string {
	c, _ := ctx.Value(ctxClaims).(*cdshooks.Claims)
	if c == nil {
		return ""
	}
	if c.Tenant != "" {
		// An iss is a URL and holds no space, so the pair cannot be forged from another iss.
		return c.Issuer + " tenant=" + c.Tenant
	}
	return c.Issuer
}

// tenantOf is the verified client's tenant claim, "" without one.
func tenantOf(ctx context.Context) string {
	if c, _ := ctx.Value(ctxClaims).(*cdshooks.Claims); c != nil {
		return c.Tenant
	}
	return ""
}

// orderKey is a keyed hash of a client's patient and draft order: the same order seen at
// order-select and order-sign has the same key, while the store holds nothing that names the
// patient. The secret is configured (Config.OrderKeySecret), so instances sharing a store agree,
// or random per process, in which case an order is recognised only by the instance that saw it.
func (g *Gateway) orderKey(client, patientID, orderID string) string {
	return store.OrderKey(g.orderSecret, client, patientID, orderID) // the imports join on the same key
}
