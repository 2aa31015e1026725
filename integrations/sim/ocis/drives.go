package ocissim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	driveTypeProject  = "project"
	driveTypePersonal = "personal"
	driveTypeVirtual  = "virtual"
	stateTrashed      = "trashed"
	// maxSpaceNameLength is oCIS's limit, counted in bytes (len) as oCIS counts it.
	maxSpaceNameLength = 255
	// sharesDriveID is the fixed id of the virtual "Shares" drive every user's listing holds.
	sharesDriveID = "a0ca6a90-a365-4782-871e-d44447bbc668$a0ca6a90-a365-4782-871e-d44447bbc668"
)

// invalidSpaceNameChars are the characters oCIS refuses in a space name (graph drives.go).
var invalidSpaceNameChars = []string{`/`, `\`, `.`, `:`, `?`, `*`, `"`, `>`, `<`, `|`}

// defaultAlias is oCIS's space alias template "{{.SpaceType}}/{{.SpaceName | replace " " "-" |
// lower}}".
func defaultAlias(driveType, name string) string {
	return driveType + "/" + strings.ToLower(strings.ReplaceAll(name, " ", "-"))
}

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
	LastModifiedDateTime string    `json:"lastModifiedDateTime,omitempty"`
	Owner                *ownerOut `json:"owner,omitempty"`
	WebURL               string    `json:"webUrl"`
	Quota                *quotaOut `json:"quota,omitempty"`
	Root                 rootOut   `json:"root"`
}

// ownerOut is a drive's owner: for a project space oCIS names the space itself (its id, no
// display name), for a personal space its user.
type ownerOut struct {
	User identityOut `json:"user"`
}

type quotaOut struct {
	Total     int64  `json:"total"`
	Used      *int64 `json:"used,omitempty"`
	Remaining *int64 `json:"remaining,omitempty"`
	State     string `json:"state,omitempty"`
}

type rootOut struct {
	ID          string               `json:"id"`
	ETag        string               `json:"eTag"`
	WebDavURL   string               `json:"webDavUrl"`
	Deleted     *deletedOut          `json:"deleted,omitempty"`
	Permissions []drivePermissionOut `json:"permissions,omitempty"`
}

// drivePermissionOut is one member of a project space as the drive resource lists it: the
// identity twice (grantedToV2 and the older grantedToIdentities) and the role by name
// ("viewer", "editor", "manager"), not by unified role id, and without a permission id.
type drivePermissionOut struct {
	GrantedToIdentities []identitySetOut `json:"grantedToIdentities"`
	GrantedToV2         identitySetOut   `json:"grantedToV2"`
	Roles               []string         `json:"roles"`
}

type deletedOut struct {
	State string `json:"state"`
}

type driveList struct {
	Value []driveOut `json:"value"`
}

// spaceID is the part of a drive id after "<storage id>$".
func spaceID(driveID string) string {
	_, id, _ := strings.Cut(driveID, "$")
	return id
}

// renderDrive renders a drive as oCIS does; the caller holds s.mu.
func (s *Server) renderDrive(r *http.Request, d *drive) driveOut {
	base := "http://" + r.Host
	out := driveOut{
		ID:                   d.ID,
		Name:                 d.Name,
		DriveType:            d.DriveType,
		DriveAlias:           d.DriveAlias,
		Description:          d.Description,
		LastModifiedDateTime: d.Modified.Format(time.RFC3339Nano),
		Owner:                &ownerOut{User: identityOut{ID: spaceID(d.ID)}},
		WebURL:               base + "/f/" + d.ID,
		Root: rootOut{
			ID:        d.ID,
			ETag:      strconv.Quote(strconv.FormatInt(d.Modified.UnixNano(), 36)),
			WebDavURL: base + "/dav/spaces/" + d.ID,
		},
	}
	if d.DriveType == driveTypeProject {
		for _, g := range d.grants {
			id := s.identity(g)
			out.Root.Permissions = append(out.Root.Permissions, drivePermissionOut{
				GrantedToIdentities: []identitySetOut{id}, GrantedToV2: id, Roles: []string{roleName(g.RoleID)},
			})
		}
	}
	if d.Disabled {
		// oCIS cannot stat a disabled space: only the stored quota limit is known.
		out.Root.Deleted = &deletedOut{State: stateTrashed}
		out.Quota = &quotaOut{Total: d.QuotaTotal}
		return out
	}
	used := int64(0)
	// A zero total is no limit: oCIS reports the remaining space as the largest int64.
	remaining := d.QuotaTotal
	if remaining == 0 {
		remaining = math.MaxInt64
	}
	out.Quota = &quotaOut{Total: d.QuotaTotal, Used: &used, Remaining: &remaining, State: "normal"}
	return out
}

// renderShares is the virtual drive through which a user reaches what was shared with them.
func renderShares(r *http.Request) driveOut {
	base := "http://" + r.Host
	return driveOut{
		ID: sharesDriveID, Name: "Shares", DriveType: driveTypeVirtual, DriveAlias: "virtual/shares",
		WebURL: base + "/f/" + sharesDriveID,
		Root:   rootOut{ID: sharesDriveID, ETag: "DECAFC00FEE", WebDavURL: base + "/dav/spaces/" + sharesDriveID},
	}
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
	out := []driveOut{}
	for _, d := range s.orderedDrives() {
		if d.Corrupt || !filter.matches(d.ID, d.DriveType) {
			continue
		}
		out = append(out, s.renderDrive(r, d))
	}
	s.mu.Unlock()
	if filter.matches(sharesDriveID, driveTypeVirtual) {
		out = append(out, renderShares(r))
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
	// An id filter that matches nothing is an empty list, like any other: {"value":[]}.
	writeJSON(w, http.StatusOK, driveList{Value: out})
}

// matches reports whether a drive passes the filter; a nil filter passes everything.
func (f *driveFilter) matches(id, driveType string) bool {
	switch {
	case f == nil:
		return true
	case f.property == "driveType":
		return driveType == f.value
	default:
		return id == f.value
	}
}

// getDrive answers a space by id, whoever created it: an administrator may read every space,
// member or not. A space hidden by a bad quota is not found.
func (s *Server) getDrive(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drives[r.PathValue("id")]
	if !ok || d.Corrupt {
		writeError(w, errf(http.StatusNotFound, codeItemNotFound, "no drive returned from storage"))
		return
	}
	writeJSON(w, http.StatusOK, s.renderDrive(r, d))
}

// createDrive follows oCIS CreateDrive: strict body (a missing name fails the schema), trimmed
// and validated name, project as the only (and default) type, no uniqueness check whatsoever,
// the default quota unless a non-negative one is given, the creator becomes Manager.
func (s *Server) createDrive(w http.ResponseWriter, r *http.Request) {
	var in driveIn
	if err := decodeStrict(r, &in); err != nil || in.Name == nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "invalid body schema definition"))
		return
	}
	name := strings.TrimSpace(*in.Name)
	if err := validateSpaceName(name); err != nil {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "invalid spacename: %v", err))
		return
	}
	if in.DriveType != nil && *in.DriveType != "" && *in.DriveType != driveTypeProject {
		writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "drives of this type cannot be created via this api"))
		return
	}
	quota := s.opts.DefaultQuota
	if in.Quota != nil && in.Quota.Total != nil && *in.Quota.Total >= 0 {
		quota = *in.Quota.Total
	}
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}
	alias := ""
	if in.DriveAlias != nil {
		alias = *in.DriveAlias
	}

	s.mu.Lock()
	d := s.newDrive(name, desc, quota, alias, s.serviceUser.id)
	out := s.renderDrive(r, d)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

// updateDrive follows oCIS UpdateDrive: a Restore header (any strconv.ParseBool true value)
// re-enables a disabled space; name, description, alias and quota are changed when present.
// An administrator may update any space, member or not. A quota of -1 is oCIS's "unlimited"
// (the uint64 maximum); any other negative quota fails in the storage with 500 and leaves the
// space unreadable (GET 404, not listed, every other PATCH and DELETE 500) until a valid quota
// is set.
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
	restore, _ := strconv.ParseBool(r.Header.Get("Restore"))

	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drives[r.PathValue("id")]
	if !ok {
		// oCIS answers 404 for a permission failure too, so a 404 never proves absence alone.
		writeError(w, errf(http.StatusNotFound, codeItemNotFound, "drive not found"))
		return
	}
	if in.Quota != nil && in.Quota.Total != nil && *in.Quota.Total < -1 {
		d.Corrupt = true
		d.Modified = time.Now().UTC()
		writeError(w, errf(http.StatusInternalServerError, codeGeneralException, "grpc error"))
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
		d.QuotaTotal = max(*in.Quota.Total, 0)
		d.Corrupt = false
	}
	d.Modified = time.Now().UTC()
	if d.Corrupt {
		// Measured on 7.1: the other changes are stored, yet the space cannot be read back.
		writeError(w, errf(http.StatusInternalServerError, codeGeneralException, "grpc error"))
		return
	}
	writeJSON(w, http.StatusOK, s.renderDrive(r, d))
}

// deleteDrive disables a space, or purges it with a Purge header; purging an enabled space is
// refused (ocis#3000, reva#2459). An administrator may do both on any space, member or not.
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
	if d.Corrupt {
		writeError(w, errf(http.StatusInternalServerError, codeGeneralException, "grpc error"))
		return
	}
	if purge {
		if !d.Disabled {
			writeError(w, errf(http.StatusBadRequest, codeInvalidRequest, "error: bad request: can't purge enabled space"))
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
