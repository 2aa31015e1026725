package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dezky/platform-api/store"
)

// Media types of request bodies.
const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// schema lists the members an object body may have; a member whose schema is nil is a leaf
// (its type is checked by decoding into the Go struct), one with a schema is a nested object.
// It exists because encoding/json names an unknown nested member without its path.
type schema map[string]schema

// readJSONBody checks the content type against accepted media types (415), reads at most
// maxBodyBytes (413) and refuses an empty body (400). It returns the raw bytes.
func readJSONBody(c echo.Context, accepted ...string) ([]byte, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !contains(accepted, strings.ToLower(mt)) {
		// RFC 5789 §3.1 names what a PATCH accepts in Accept-Patch; Accept-Post (W3C LDP) is
		// its counterpart for POST.
		header := "Accept-Post"
		if c.Request().Method == http.MethodPatch {
			header = "Accept-Patch"
		}
		return nil, newProblem(http.StatusUnsupportedMediaType, problemBlank,
			fmt.Sprintf("Content-Type must be %s", strings.Join(accepted, " or "))).
			withHeader(header, strings.Join(accepted, ", "))
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, badRequest("the request body could not be read").withCause(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("a JSON object body is required")
	}
	return body, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseObject parses body as one JSON object (400 when it is not JSON, 422 when it is JSON but
// not an object) and checks its members against sch (422 naming every unknown member).
// Numbers stay json.Number so quotas keep all their digits.
func parseObject(body []byte, sch schema) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest("the request body must hold exactly one JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalid(store.FieldError{Field: "(body)", Message: "must be a JSON object"})
	}
	if fields := unknownMembers("", obj, sch); len(fields) > 0 {
		return nil, invalid(fields...)
	}
	return obj, nil
}

func malformed(err error) *Problem {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return badRequest(fmt.Sprintf("the request body is not valid JSON (at byte %d): %v", se.Offset, se))
	}
	return badRequest("the request body is not valid JSON: " + err.Error())
}

// unknownMembers walks obj along sch and names every member the schema does not know.
func unknownMembers(prefix string, obj map[string]any, sch schema) []store.FieldError {
	var out []store.FieldError
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := prefix + k
		sub, known := sch[k]
		if !known {
			out = append(out, store.FieldError{Field: path, Message: "is not a known field"})
			continue
		}
		if child, ok := obj[k].(map[string]any); ok && sub != nil {
			out = append(out, unknownMembers(path+".", child, sub)...)
		}
	}
	return out
}

// decodeStrict decodes a JSON value into dst, turning a type mismatch into a 422 that names
// the field by its JSON path.
func decodeStrict(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "(body)"
			}
			return invalid(store.FieldError{Field: field, Message: "must be " + describeType(te.Type)})
		}
		// The schema walk names unknown members first; this is a backstop for a schema that
		// forgot one (encoding/json reports no path, only the name).
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return invalid(store.FieldError{Field: strings.Trim(name, `"`), Message: "is not a known field"})
		}
		return malformed(err)
	}
	return nil
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "of type " + t.String()
}

// decodeBody is the whole path of a create body: media type, size, one object, known members
// only, then typed decoding.
func decodeBody(c echo.Context, sch schema, dst any, accepted ...string) error {
	body, err := readJSONBody(c, accepted...)
	if err != nil {
		return err
	}
	if _, err := parseObject(body, sch); err != nil {
		return err
	}
	return decodeStrict(body, dst)
}

// toJSONValue is v as encoding/json's generic value (objects as map[string]any, numbers as
// json.Number), the form mergePatch works on.
func toJSONValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("unmarshal: %w", err)
	}
	return out, nil
}

func marshalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	return b, nil
}
