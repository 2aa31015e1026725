package stalwartsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Request-level error types (RFC 8620 §3.6.1).
const (
	errNotJSON           = "urn:ietf:params:jmap:error:notJSON"
	errNotRequest        = "urn:ietf:params:jmap:error:notRequest"
	errLimit             = "urn:ietf:params:jmap:error:limit"
	errUnknownCapability = "urn:ietf:params:jmap:error:unknownCapability"
)

// methodError is a method-level error (RFC 8620 §3.6.2), answered inside HTTP 200 as
// ["error", {type, description}, callId].
type methodError struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

func (e *methodError) Error() string { return e.Type + ": " + e.Description }

func invalidArguments(format string, a ...any) *methodError {
	return &methodError{Type: "invalidArguments", Description: fmt.Sprintf(format, a...)}
}

// serveAPI handles POST /jmap/: authentication, the request envelope and its request-level
// errors, then each method call in order.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if !s.authenticate(w, r) {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeProblem(w, problem{Type: errNotJSON, Status: http.StatusBadRequest,
				Detail: "The Content-Type header must be application/json."})
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, defaultMaxSizeRequest+1))
	if err != nil {
		return
	}
	if len(body) > defaultMaxSizeRequest {
		writeProblem(w, problem{Type: errLimit, Status: http.StatusBadRequest, Limit: "maxSizeRequest",
			Detail: "The request is larger than the server is willing to process."})
		return
	}
	calls, using, createdIDs, perr := s.parseRequest(body)
	if perr != nil {
		writeProblem(w, *perr)
		return
	}
	_ = using // Stalwart does not gate registry methods on "using" (api/request.rs).

	responses := make([]any, 0, len(calls))
	results := map[string]result{}
	for _, c := range calls {
		name, args, err := s.runCall(c, results)
		if err != nil {
			responses = append(responses, []any{"error", err, c.id})
			results[c.id] = result{name: "error"}
			continue
		}
		responses = append(responses, []any{name, args, c.id})
		results[c.id] = result{name: name, args: args}
	}
	s.mu.Lock()
	state := s.sessionState
	s.mu.Unlock()
	out := map[string]any{"methodResponses": responses, "sessionState": fmt.Sprintf("%x", state)}
	if createdIDs != nil {
		out["createdIds"] = createdIDs
	}
	writeJSON(w, http.StatusOK, out)
}

// call is one parsed invocation.
type call struct {
	name string
	args map[string]any
	id   string
}

// result is a previous invocation's response, kept for result references.
type result struct {
	name string
	args any
}

// parseRequest decodes the Request object (RFC 8620 §3.3) and answers its request-level errors.
func (s *Server) parseRequest(body []byte) ([]call, []string, map[string]any, *problem) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, nil, &problem{Type: errNotJSON, Status: http.StatusBadRequest,
			Detail: "Failed to parse JSON: " + err.Error()}
	}
	notRequest := func(detail string) *problem {
		return &problem{Type: errNotRequest, Status: http.StatusBadRequest, Detail: detail}
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, nil, notRequest("Expected a JSON object.")
	}
	rawUsing, ok := obj["using"].([]any)
	if !ok {
		return nil, nil, nil, notRequest(`Missing or invalid "using" property.`)
	}
	using := make([]string, 0, len(rawUsing))
	for _, u := range rawUsing {
		us, ok := u.(string)
		if !ok {
			return nil, nil, nil, notRequest(`Invalid "using" property.`)
		}
		if !knownCapabilities[us] {
			return nil, nil, nil, &problem{Type: errUnknownCapability, Status: http.StatusBadRequest,
				Detail: fmt.Sprintf("The Request object used capability '%s', which is not supportedby this server.", us)}
		}
		using = append(using, us)
	}
	rawCalls, ok := obj["methodCalls"].([]any)
	if !ok {
		return nil, nil, nil, notRequest(`Missing or invalid "methodCalls" property.`)
	}
	if len(rawCalls) > s.opts.MaxCallsInRequest {
		return nil, nil, nil, &problem{Type: errLimit, Status: http.StatusBadRequest, Limit: "maxCallsInRequest",
			Detail: "The request exceeds the maximum number of calls in a single request."}
	}
	calls := make([]call, 0, len(rawCalls))
	for _, rc := range rawCalls {
		inv, ok := rc.([]any)
		if !ok || len(inv) != 3 {
			return nil, nil, nil, notRequest("Invalid method call: expected [name, arguments, id].")
		}
		name, ok1 := inv[0].(string)
		args, ok2 := inv[1].(map[string]any)
		id, ok3 := inv[2].(string)
		if !ok1 || !ok2 || !ok3 {
			return nil, nil, nil, notRequest("Invalid method call: expected [name, arguments, id].")
		}
		calls = append(calls, call{name: name, args: args, id: id})
	}
	createdIDs, _ := obj["createdIds"].(map[string]any)
	return calls, using, createdIDs, nil
}

// runCall resolves result references, applies injected method faults, and dispatches.
func (s *Server) runCall(c call, results map[string]result) (string, any, *methodError) {
	_, method, _ := strings.Cut(c.name, "/")
	if err := resolveReferences(c.args, results, referenceArgs[method]); err != nil {
		return "", nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.methodFaults {
		f := &s.methodFaults[i]
		if f.left > 0 && (f.method == "" || f.method == c.name) {
			f.left--
			return "", nil, &methodError{Type: f.errType, Description: "Injected fault."}
		}
	}
	typ, _, ok := strings.Cut(c.name, "/")
	if c.name == "Core/echo" {
		return c.name, c.args, nil
	}
	objType := map[string]string{"x:Domain": typeDomain, "x:Account": typeAccount, "x:DkimSignature": typeDkim}[typ]
	if !ok || objType == "" {
		return "", nil, &methodError{Type: "unknownMethod", Description: "Unknown method " + c.name}
	}
	if err := s.checkAccount(c.args); err != nil {
		return "", nil, err
	}
	var (
		out any
		err *methodError
	)
	switch method {
	case "get":
		out, err = s.get(objType, c.args)
	case "query":
		out, err = s.query(objType, c.args)
	case "set":
		out, err = s.set(objType, c.args)
	default:
		return "", nil, &methodError{Type: "unknownMethod", Description: "Unknown method " + c.name}
	}
	if err != nil {
		return "", nil, err
	}
	return c.name, out, nil
}

// checkAccount applies Stalwart's resolve_account_id for registry methods: a missing accountId
// means the token's own account; another account is not accessible.
func (s *Server) checkAccount(args map[string]any) *methodError {
	v, ok := args["accountId"]
	if !ok {
		return nil
	}
	id, isStr := v.(string)
	if !isStr {
		return invalidArguments(`Invalid "accountId".`)
	}
	if id != adminAccountID {
		return &methodError{Type: "accountNotFound", Description: "Account " + id + " not found."}
	}
	return nil
}

// referenceArgs are the arguments Stalwart's parsers accept as result references ("#ids" and
// "#properties" of /get, "#destroy" of /set); any other "#" argument is unknown.
var referenceArgs = map[string][]string{"get": {"ids", "properties"}, "set": {"destroy"}}

// resolveReferences replaces every "#name" argument by the value its ResultReference points at
// (RFC 8620 §3.7).
func resolveReferences(args map[string]any, results map[string]result, allowed []string) *methodError {
	for k, v := range args {
		if !strings.HasPrefix(k, "#") {
			continue
		}
		name := k[1:]
		if !slices.Contains(allowed, name) {
			return invalidArguments("Unknown argument %q.", k)
		}
		if _, dup := args[name]; dup {
			return invalidArguments("Argument %s given both directly and as a reference.", name)
		}
		ref, ok := v.(map[string]any)
		resultOf, _ := ref["resultOf"].(string)
		refName, _ := ref["name"].(string)
		path, _ := ref["path"].(string)
		if !ok || resultOf == "" || refName == "" {
			return &methodError{Type: "invalidResultReference", Description: "Invalid result reference."}
		}
		prev, ok := results[resultOf]
		if !ok || prev.name != refName {
			return &methodError{Type: "invalidResultReference",
				Description: fmt.Sprintf("No %s result for call %s.", refName, resultOf)}
		}
		val, ok := evalPointer(toGeneric(prev.args), splitPointer(path))
		if !ok {
			return &methodError{Type: "invalidResultReference", Description: "Invalid path " + path}
		}
		delete(args, k)
		args[name] = val
	}
	return nil
}

// toGeneric round-trips a response value through JSON so a pointer can walk it.
func toGeneric(v any) any {
	b, _ := json.Marshal(v)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	_ = dec.Decode(&out)
	return out
}

// evalPointer evaluates a JSON pointer with RFC 8620's "*" extension (map over an array,
// flattening nested arrays).
func evalPointer(v any, segs []string) (any, bool) {
	if len(segs) == 0 || (len(segs) == 1 && segs[0] == "") {
		return v, true
	}
	seg, rest := segs[0], segs[1:]
	switch t := v.(type) {
	case map[string]any:
		x, ok := t[seg]
		if !ok {
			return nil, false
		}
		return evalPointer(x, rest)
	case []any:
		if seg == "*" {
			out := []any{}
			for _, el := range t {
				x, ok := evalPointer(el, rest)
				if !ok {
					return nil, false
				}
				if arr, isArr := x.([]any); isArr {
					out = append(out, arr...)
				} else {
					out = append(out, x)
				}
			}
			return out, true
		}
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 || i >= len(t) {
			return nil, false
		}
		return evalPointer(t[i], rest)
	}
	return nil, false
}
