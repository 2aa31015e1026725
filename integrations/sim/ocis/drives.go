package ocissim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	driveTypeProject = "project"
	stateTrashed     = "trashed"
	// maxSpaceNameLength is oCIS's limit, counted in bytes (len) as oCIS counts it.
	maxSpaceNameLength = 255
)

// invalidSpaceNameChars are the characters oCIS refuses in a space name (graph drives.go).
var invalidSpaceNameChars = []string{`/`, `\`, `.`, `:`, `?`, `*`, `"`, `>`, `<`, `|`}

// driveIn is every property the libre-graph drive/driveUpdate schemas declare: oCIS decodes into
// that type strictly, so a declared read-only property is accepted (and ignored) while an
// undeclared one is a 400.
type driveIn struct {
	ID                   *string         `json:"id"`
	CreatedBy            json.RawMessage `json:"createdBy"`
	CreatedDateTime      *string         `json:"createdDateTime"`
	Description          *string         `json:"description"`
	ETag                 *string         `json:"eTag"`
	LastModifiedBy       json.RawMessage `json:"lastModifiedBy"`
	LastModifiedDateTime *string         `json:"lastModifiedDateTime"`
	Name                 *string         `json:"name"`
	ParentReference      json.RawMessage `json:"parentReference"`
	WebURL               *string         `json:"webUrl"`
	DriveType            *string         `json:"driveType"`
	DriveAlias           *string         `json:"driveAlias"`
	Owner                json.RawMessage `json:"owner"`
	Quota                *quotaIn        `json:"quota"`
	Items                json.RawMessage `json:"items"`
	Root                 json.RawMessage `json:"root"`
	Special              json.RawMessage `json:"special"`
}

type quotaIn struct {
	Deleted   *int64  `json:"deleted"`
	Remaining *int64  `json:"remaining"`
	State     *string `json:"state"`
	Total     *int64  `json:"total"`
	Used      *int64  `json:"used"`
}

type driveOut struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	DriveType            string    `json:"driveType"`
	DriveAlias           string    `json:"driveAlias,omitempty"`
	Description          string    `json:"description,omitempty"`
	LastModifiedDateTime string    `json:"lastModifiedDateTime"`
	WebURL               string    `json:"webUrl"`
	Quota                *quotaOut `json:"quota,omitempty"`
	Root                 rootOut   `json:"root"`
}

type quotaOut struct {
	Total     int64  `json:"total"`
	Used      *int64 `json:"used,omitempty"`
	Remaining *int64 `json:"remaining,omitempty"`
	State     string `json:"state,omitempty"`
}

type rootOut struct {
	ID        string      `json:"id"`
	ETag      string      `json:"eTag"`
	WebDavURL string      `json:"webDavUrl"`
	Deleted   *deletedOut `json:"deleted,omitempty"`
}

type deletedOut struct {
	State string `json:"state"`
}

type driveList struct {
	Value []driveOut `json:"value"`
}

func renderDrive(r *http.Request, d *drive) driveOut {
	base := "http://" + r.Host
	out := driveOut{
		ID:                   d.ID,
		Name:                 d.Name,
		DriveType:            d.DriveType,
		DriveAlias:           d.DriveAlias,
		Description:          d.Description,
		LastModifiedDateTime: d.Modified.Format(time.RFC3339Nano),
		WebURL:               base + "/f/" + d.ID,
		Root: rootOut{
			ID:        d.ID,
			ETag:      strconv.Quote(strconv.FormatInt(d.Modified.UnixNano(), 36)),
			WebDavURL: base + "/dav/spaces/" + d.ID,
		},
	}
	if d.Disabled {
		// oCIS cannot stat a disabled space: only the stored quota limit is known.
		out.Root.Deleted = &deletedOut{State: stateTrashed}
		out.Quota = &quotaOut{Total: d.QuotaTotal}
		return out
	}
	used := int64(0)
	remaining := d.QuotaTotal
	out.Quota = &quotaOut{Total: d.QuotaTotal, Used: &used, Remaining: &remaining, State: "normal"}
	return out
}

func validateSpaceName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("spacename must not be empty")
	case len(name) > maxSpaceNameLength:
		return fmt.Errorf("spacename must be smaller than %d", maxSpaceNameLength)
	}
	for _, c := range invalidSpaceNameChars {
		if strings.Contains(name, c) {
			return fmt.Errorf("spacenames must not contain %v", invalidSpaceNameChars)
		}
	}
	return nil
}

func (s *Server) listDrives(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var filter *driveFilter
	if q.Has("$filter") {
		f, e := parseDriveFilter(q.Get("$filter"))
		if e != nil {
			writeError(w, e)
			return
		}
		filter = f
	}
	orderField, orderDesc := "", false
	if q.Has("$orderby") {
		f, desc, e := parseOrderBy(q.Get("$orderby"))
		if e != nil {
			writeError(w, e)
			return
		}
		orderField, orderDesc = f, desc
	}

	s.mu.Lock()
	var out []driveOut
	for _, d := range s.orderedDrives() {
		if filter != nil {
			if filter.property == "driveType" && d.DriveType != filter.value {
				continue
			}
			if filter.property == "id" && d.ID != filter.value {
				continue
			}
		}
		out = append(out, renderDrive(r, d))
	}
	s.mu.Unlock()

	if filter != nil && filter.property == "id" && len(out) == 0 {
		// oCIS turns the storage registry's NOT_FOUND for an id filter into a literal null body.
		writeJSON(w, http.StatusOK, nil)
		return
	}
	if orderField != "" {
		sort.SliceStable(out, func(i, j int) bool {
			a, b := out[i].Name, out[j].Name
			if orderField == "lastModifiedDateTime" {
				a, b = out[i].LastModifiedDateTime, out[j].LastModifiedDateTime
			}
			if orderDesc {
				return a > b
			}
			return a < b
		})
	}
	if out == nil {
		out = []driveOut{}
	}
	writeJSON(w, http.StatusOK, driveList{Value: out})
}

func (s *Server) getDrive(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drives[r.PathValue("id")]
	if !ok {
		writeError(w, errf(http.StatusNotFound, codeItemNotFound, "drive not found"))
		return
	}
	writeJSON(w, http.StatusOK, renderDrive(r, d))
}

// createDrive follows oCIS CreateDrive: strict body, trimmed and validated name, project as the
// only (and default) type, no uniqueness check whatsoever, the creator becomes Manager.
func (s *Server) createDrive(w http.ResponseWriter, r *http.Request) {
	var in driveIn
	if err := decodeStrict(r, &in); err != nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "invalid body schema definition: %v", err))
		return
	}
	name := ""
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
	}
	if err := validateSpaceName(name); err != nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "invalid spacename: %v", err))
		return
	}
	if in.DriveType != nil && *in.DriveType != "" && *in.DriveType != driveTypeProject {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "drives of this type cannot be created via this api"))
		return
	}
	var quota int64
	if in.Quota != nil && in.Quota.Total != nil && *in.Quota.Total >= 0 {
		quota = *in.Quota.Total
	}
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}

	s.mu.Lock()
	d := s.newDrive(name, desc, quota, s.serviceUser.id)
	if in.DriveAlias != nil {
		d.DriveAlias = *in.DriveAlias
	}
	out := renderDrive(r, d)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

// updateDrive follows oCIS UpdateDrive: a Restore header (any strconv.ParseBool true value)
// re-enables a disabled space; name, description and quota are changed when present.
func (s *Server) updateDrive(w http.ResponseWriter, r *http.Request) {
	var in driveIn
	if err := decodeStrict(r, &in); err != nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "invalid request body: error: %v", err))
		return
	}
	name := ""
	if in.Name != nil && *in.Name != "" {
		name = strings.TrimSpace(*in.Name)
		if err := validateSpaceName(name); err != nil {
			writeError(w, errf(http.StatusBadRequest, codeGeneralException, "%v", err))
			return
		}
	}
	if in.Quota != nil && in.Quota.Total != nil && *in.Quota.Total < 0 {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "quota must not be negative"))
		return
	}
	restore, _ := strconv.ParseBool(r.Header.Get("Restore"))

	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drives[r.PathValue("id")]
	if !ok {
		// oCIS answers 404 for a permission failure too, so a 404 never proves absence alone.
		writeError(w, errf(http.StatusNotFound, codeItemNotFound, "drive not found"))
		return
	}
	if restore {
		d.Disabled = false
	}
	if name != "" {
		d.Name = name
	}
	if in.Description != nil {
		d.Description = *in.Description
	}
	if in.DriveAlias != nil {
		d.DriveAlias = *in.DriveAlias
	}
	if in.Quota != nil && in.Quota.Total != nil {
		d.QuotaTotal = *in.Quota.Total
	}
	d.Modified = time.Now().UTC()
	writeJSON(w, http.StatusOK, renderDrive(r, d))
}

// deleteDrive disables a space, or purges it with a Purge header; purging an enabled space is
// refused (ocis#3000, reva#2459).
func (s *Server) deleteDrive(w http.ResponseWriter, r *http.Request) {
	purge, _ := strconv.ParseBool(r.Header.Get("Purge"))
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	d, ok := s.drives[id]
	if !ok {
		writeError(w, errf(http.StatusNotFound, codeItemNotFound, "drive not found"))
		return
	}
	if purge {
		if !d.Disabled {
			writeError(w, errf(http.StatusBadRequest, codeGeneralException, "can't purge enabled space"))
			return
		}
		delete(s.drives, id)
		delete(s.created, id)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	d.Disabled = true
	d.Modified = time.Now().UTC()
	w.WriteHeader(http.StatusNoContent)
}
