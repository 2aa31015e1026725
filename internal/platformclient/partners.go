package platformclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// PartnerPage is one page of partners.
type PartnerPage struct {
	Items []Partner
	// NextCursor is empty on the last page.
	NextCursor string
}

// ListPartners reads one page of partners (operators).
func (c *Client) ListPartners(ctx context.Context, limit int, cursor string) (*PartnerPage, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	r := request{method: http.MethodGet, path: "/partners", query: q}
	items, next, err := listPage(ctx, c, r, func(item *Partner, raw json.RawMessage) { item.Raw = raw })
	if err != nil {
		return nil, err
	}
	return &PartnerPage{Items: items, NextCursor: next}, nil
}
