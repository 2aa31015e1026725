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
	"strconv"
	"strings"
	"unicode/utf8"

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
	if p := checkStrict(body); p != nil {
		return nil, p
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

// checkStrict refuses what encoding/json lets through without a word: bytes that are not
// UTF-8 and \u escapes of half a UTF-16 surrogate pair (both silently become U+FFFD), and a
// member named twice in one object (the last one silently wins). Each makes a body mean one
// thing to us and another to a proxy, a log reader or another JSON parser in front of us, so
// each is a 400. It runs on a body that has already parsed. (encoding/json/v2 refuses all
// three by default; it is still an experiment in Go 1.26, hence these few lines.)
func checkStrict(body []byte) *Problem {
	if !utf8.Valid(body) {
		return badRequest("the request body is not valid UTF-8")
	}
	if at := loneSurrogate(body); at >= 0 {
		return badRequest(fmt.Sprintf("the request body has a \\u escape of half a UTF-16 surrogate pair (at byte %d)", at))
	}
	if path := duplicateMember(body); path != "" {
		return badRequest(fmt.Sprintf("the request body names the member %s more than once", path),
			store.FieldError{Field: path, Message: "appears more than once"})
	}
	return nil
}

// loneSurrogate returns the offset of the first \u escape in a string of body that encodes a
// surrogate (U+D800–U+DFFF) other than as a high one immediately followed by a low one, or -1.
// body is syntactically valid JSON, so a backslash only occurs inside strings and always
// starts a complete escape.
func loneSurrogate(body []byte) int {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if body[i+1] != 'u' {
			i++ // a two-character escape such as \" or \\
			continue
		}
		r := hex4(body[i+2 : i+6])
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return i
		case r >= 0xD800 && r <= 0xDBFF:
			next := body[i+6:]
			if len(next) < 6 || next[0] != '\\' || next[1] != 'u' {
				return i
			}
			if lo := hex4(next[2:6]); lo < 0xDC00 || lo > 0xDFFF {
				return i
			}
			i += 11 // the pair
		default:
			i += 5
		}
	}
	return -1
}

// hex4 decodes four hex digits; -1 if they are not (a tail of the string that is no escape).
func hex4(b []byte) rune {
	n, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return -1
	}
	return rune(n)
}

// duplicateMember walks body (already parsed, so nested no deeper than encoding/json allows)
// and returns the path of the first member named twice in one object ("mail.domain",
// "items[2].name"), or "". Names compare after unescaping: "a" and "\u0061" are one name.
func duplicateMember(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	dup, _ := walkMembers(dec, "")
	return dup
}

func walkMembers(dec *json.Decoder, path string) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return "", err
			}
			name, _ := key.(string)
			p := name
			if path != "" {
				p = path + "." + name
			}
			if seen[name] {
				return p, nil
			}
			seen[name] = true
			if dup, err := walkMembers(dec, p); dup != "" || err != nil {
				return dup, err
			}
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if dup, err := walkMembers(dec, fmt.Sprintf("%s[%d]", path, i)); dup != "" || err != nil {
				return dup, err
			}
		}
	default:
		return "", nil // a scalar
	}
	_, err = dec.Token() // the closing delimiter
	return "", err
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
