package gateway

import (
	"crypto/sha256"
	"slices"
	"strings"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"valuerx/cdshooks"
	"valuerx/scoring"
	"valuerx/web"
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
	cat *scoring.Catalog
	ind *scoring.IndicationTable // the engine's policy's: how a card names an indication
	lru *lru.Cache[cardKey, cachedCard]
}

// cachedCard is a built card and the catalog product each of its suggestions orders, read once
// from the suggestion's own action, so the decision can book each suggestion's own figures.
type cachedCard struct {
	card     *cdshooks.Card
	products []string
	// page names the card's comparison page (web.Links): one id per built card, so every
	// response with this card links the same stored comparison, each with its own fresh
	// signed reference.
	page web.ID
	// tmpl encodes the card with holes for its per-response values (cardenc.go); nil when it
	// could not be built, and the response then encodes the card with encoding/json.
	tmpl *cardTemplate
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
	secondaryID                  string  // the supplemental coverage changes the figures the card prints
	deductibleCounted            bool    // so does a deductible counted on another draft
	loadingDose                  bool    // and a loading dose's year of therapy
	oopCounted                   float64 // and the maximum out-of-pocket other drafts count
	loadingBeside                int     // and loading doses beside a maintenance order
	deductibleMet                float64 // and the part of the deductible other drafts meet
	oopCountedYear               float64 // and the maximum other drafts' years count
	roundMg                      float64
	scheduleImplausible          bool
	alsoDrafted                  string
	doseAboveLabel               bool
	unlabelledReason             bool
	view                         cardView
}

func newCardCache(cat *scoring.Catalog, ind *scoring.IndicationTable) *cardCache {
	c, _ := lru.New[cardKey, cachedCard](cardCacheSize) // only a size <= 0 fails
	return &cardCache{cat: cat, ind: ind, lru: c}
}

func cardKeyOf(item orderedItem, req scoring.Request, historyKnown bool, view cardView) cardKey {
	k := cardKey{raw: sha256.Sum256(item.raw), contract: req.ContractID, product: req.ProductID,
		currentID: req.CurrentProductID, dose: item.doseMg, doseText: item.doseText, doseNotes: strings.Join(item.doseNotes, "\x00"), admins: item.admins,
		day: item.date.UTC().Truncate(24 * 60 * 60 * 1e9).Unix(), dateGiven: item.dateGiven, historyKnown: historyKnown,
		itemMg: req.ItemMg, codeMg: item.codeMg, site: req.Site, indications: strings.Join(req.Indications, "\x00"),
		indicationKnown: req.IndicationKnown, secondaryID: req.SecondaryID, deductibleCounted: req.DeductibleCounted, loadingDose: req.LoadingDose, oopCounted: req.OOPCounted, loadingBeside: req.LoadingDosesBeside, deductibleMet: req.DeductibleMet, oopCountedYear: req.OOPCountedYear, view: view}
	if item.rounding != nil {
		k.roundMg = item.rounding.DoseMg
	}
	k.scheduleImplausible = item.scheduleImplausible
	k.alsoDrafted = strings.Join(item.alsoDrafted, "\x00")
	k.doseAboveLabel = item.doseAboveLabel
	k.unlabelledReason = item.unlabelledReason
	return k
}

// card returns the card for item and res, built once per key; each call gets its own copy with
// fresh card and suggestion UUIDs, and the product id each suggestion orders ("" when the
// suggestion's action names no catalog product). A nil card (nothing could be suggested safely)
// is cached too.
func (c *cardCache) card(item orderedItem, req scoring.Request, res scoring.Result, group scoring.Group, historyKnown bool, view cardView) (*cdshooks.Card, []string, web.ID, *cardTemplate, error) {
	key := cardKeyOf(item, req, historyKnown, view)
	if cached, ok := c.lru.Get(key); ok {
		if cached.card == nil {
			return nil, nil, web.ID{}, nil, nil
		}
		return freshCopy(cached.card), cached.products, cached.page, cached.tmpl, nil
	}
	item.indicationLabels = make([]string, len(res.Indications))
	for i, id := range res.Indications {
		item.indicationLabels[i] = c.ind.Label(group.ID, id)
	}
	for _, o := range res.Options {
		if o.Exclusion != scoring.ExcludeNotLabelled {
			continue
		}
		lacks := false
		for _, id := range res.Indications {
			if ind, ok := c.ind.Indication(group.ID, id); ok && ind.LabelFor(o.Product.ID) == scoring.LabelNo {
				lacks = true
			}
		}
		if !lacks { // unknown for every indication it misses: not retrieved, not "no"
			item.labelUnconfirmed = append(item.labelUnconfirmed, o.Product.ID)
		}
	}
	if ref, ok := c.cat.Product(group.ReferenceID); ok {
		item.referenceName = ref.Name
	}
	card, err := buildCard(item, res, group, historyKnown, view)
	if err != nil {
		return nil, nil, web.ID{}, nil, err
	}
	if card == nil {
		c.lru.Add(key, cachedCard{})
		return nil, nil, web.ID{}, nil, nil
	}
	page, err := web.NewID()
	if err != nil {
		return nil, nil, web.ID{}, nil, err
	}
	products := suggestionProducts(c.cat, card)
	kept := freshCopy(card)
	tmpl, _ := newCardTemplate(kept) // nil on failure: encoding/json then writes the card
	c.lru.Add(key, cachedCard{card: kept, products: products, page: page, tmpl: tmpl})
	return card, products, page, tmpl, nil
}

// freshCopy copies a card's mutable parts and gives it new UUIDs. Actions' resources are
// immutable bytes and are shared.
func freshCopy(in *cdshooks.Card) *cdshooks.Card {
	out := *in
	out.UUID = cdshooks.NewCardUUID()
	out.Suggestions = slices.Clone(in.Suggestions)
	for i := range out.Suggestions {
		out.Suggestions[i].UUID = uuid.NewString()
		out.Suggestions[i].Actions = slices.Clone(in.Suggestions[i].Actions)
	}
	out.OverrideReasons = slices.Clone(in.OverrideReasons)
	out.Links = slices.Clone(in.Links)
	return &out
}
