package gateway

import (
	"crypto/sha256"
	"slices"
	"strings"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"valuerx/cdshooks"
	"valuerx/scoring"
)

// cardCacheSize bounds the built cards kept (a card is a few KiB).
const cardCacheSize = 512

// cardCache keeps built and validated cards, because building one (markdown table, a cloned draft
// order per suggestion, Card.Validate's encode-parse-check) was half of a warm hook's CPU in the
// profile (docs/performance.md). A card is a pure function of the draft order bytes, the scoring
// request and whether history was known; only its UUIDs must be new per response, and those are
// the one thing a cached card gets fresh. The content every response carries was validated when
// the card was first built.
type cardCache struct {
	lru *lru.Cache[cardKey, *cdshooks.Card]
}

// cardKey is everything buildCard reads: the draft order (by hash, it is cloned into the
// suggestions), the score's inputs (the result is a pure function of them for the gateway's
// fixed catalog and registry) and the item facts the detail prints.
type cardKey struct {
	raw                          [sha256.Size]byte
	contract, product, currentID string
	dose                         float64
	doseText, doseNotes          string
	admins                       int
	day                          int64
	dateGiven, historyKnown      bool
	itemMg, codeMg               float64
	site, indications            string
	indicationKnown              bool
}

func newCardCache() *cardCache {
	c, _ := lru.New[cardKey, *cdshooks.Card](cardCacheSize) // only a size <= 0 fails
	return &cardCache{lru: c}
}

func cardKeyOf(item orderedItem, req scoring.Request, historyKnown bool) cardKey {
	return cardKey{raw: sha256.Sum256(item.raw), contract: req.ContractID, product: req.ProductID,
		currentID: req.CurrentProductID, dose: item.doseMg, doseText: item.doseText, doseNotes: strings.Join(item.doseNotes, "\x00"), admins: item.admins,
		day: item.date.UTC().Truncate(24 * 60 * 60 * 1e9).Unix(), dateGiven: item.dateGiven, historyKnown: historyKnown,
		itemMg: req.ItemMg, codeMg: item.codeMg, site: req.Site, indications: strings.Join(req.Indications, "\x00"),
		indicationKnown: req.IndicationKnown}
}

// card returns the card for item and res, built once per key; each call gets its own copy with
// fresh card and suggestion UUIDs. A nil card (nothing could be suggested safely) is cached too.
func (c *cardCache) card(item orderedItem, req scoring.Request, res scoring.Result, group scoring.Group, historyKnown bool) (*cdshooks.Card, error) {
	key := cardKeyOf(item, req, historyKnown)
	if cached, ok := c.lru.Get(key); ok {
		if cached == nil {
			return nil, nil
		}
		return freshCopy(cached), nil
	}
	card, err := buildCard(item, res, group, historyKnown)
	if err != nil {
		return nil, err
	}
	if card == nil {
		c.lru.Add(key, nil)
		return nil, nil
	}
	c.lru.Add(key, freshCopy(card))
	return card, nil
}

// freshCopy copies a card's mutable parts and gives it new UUIDs. Actions' resources are
// immutable bytes and are shared.
func freshCopy(in *cdshooks.Card) *cdshooks.Card {
	out := *in
	out.UUID = uuid.NewString()
	out.Suggestions = slices.Clone(in.Suggestions)
	for i := range out.Suggestions {
		out.Suggestions[i].UUID = uuid.NewString()
		out.Suggestions[i].Actions = slices.Clone(in.Suggestions[i].Actions)
	}
	out.OverrideReasons = slices.Clone(in.OverrideReasons)
	out.Links = slices.Clone(in.Links)
	return &out
}
