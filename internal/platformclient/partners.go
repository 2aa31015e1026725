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
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var page struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor *string           `json:"nextCursor"`
	}
	if err := decode(r, resp.body, &page); err != nil {
		return nil, err
	}
	out := &PartnerPage{Items: make([]Partner, len(page.Items))}
	if page.NextCursor != nil {
		out.NextCursor = *page.NextCursor
	}
	for i, raw := range page.Items {
		if err := decode(r, raw, &out.Items[i]); err != nil {
			return nil, err
		}
		out.Items[i].Raw = raw
	}
	return out, nil
}
