package authentiksim

import (
	"net/url"
	"strconv"
)

// pagination is Authentik's pagination object (authentik/api/pagination.py): next and previous
// are page numbers with 0 meaning none, never URLs.
type pagination struct {
	Next       int `json:"next"`
	Previous   int `json:"previous"`
	Count      int `json:"count"`
	Current    int `json:"current"`
	TotalPages int `json:"total_pages"`
	StartIndex int `json:"start_index"`
	EndIndex   int `json:"end_index"`
}

// page is one page of a list response.
type page struct {
	Pagination   pagination     `json:"pagination"`
	Results      []any          `json:"results"`
	Autocomplete map[string]any `json:"autocomplete"`
}

// paginate cuts items into the requested page with DRF's PageNumberPagination rules on top of
// Django's Paginator: page_size must be a positive integer or the default applies; page is a
// positive integer or "last", anything else (including a page past the end) is not found.
// An empty list still has one (empty) page.
func (s *Server) paginate(q url.Values, items []any) (page, bool) {
	size := s.pageSize
	if v := q.Get("page_size"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			size = n
		}
	}
	count := len(items)
	pages := 1
	if count > 0 {
		pages = (count + size - 1) / size
	}
	n := 1
	if v := q.Get("page"); v != "" {
		if v == "last" {
			n = pages
		} else {
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > pages {
				return page{}, false
			}
			n = p
		}
	}
	lo := (n - 1) * size
	hi := min(lo+size, count)
	p := page{
		Pagination: pagination{Count: count, Current: n, TotalPages: pages},
		Results:    append([]any{}, items[lo:hi]...),
		// Authentik fills autocomplete only for its query-language search; empty otherwise.
		Autocomplete: map[string]any{},
	}
	if n < pages {
		p.Pagination.Next = n + 1
	}
	if n > 1 {
		p.Pagination.Previous = n - 1
	}
	if count > 0 {
		p.Pagination.StartIndex = lo + 1
		p.Pagination.EndIndex = hi
	}
	return p, true
}
