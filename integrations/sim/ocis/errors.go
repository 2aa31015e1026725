package ocissim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Error codes oCIS renders (services/graph/pkg/errorcode).
const (
	codeAccessDenied      = "accessDenied"
	codeActivityLimit     = "activityLimitReached"
	codeGeneralException  = "generalException"
	codeInvalidRequest    = "invalidRequest"
	codeItemNotFound      = "itemNotFound"
	codeNameAlreadyExists = "nameAlreadyExists"
	codeNotSupported      = "notSupported"
	codeServiceNotAvail   = "serviceNotAvailable"
)

// maxBody bounds a request body; oCIS's proxy rejects far smaller bodies than a graph call needs.
const maxBody = 1 << 20

type odataError struct {
	Error odataErrorMain `json:"error"`
}

type odataErrorMain struct {
	Code       string            `json:"code"`
	Message    string            `json:"message"`
	Innererror map[string]string `json:"innererror"`
}

// apiError is a libre-graph error a handler returns instead of writing it itself.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errorBody renders the libre-graph error object, innererror included, as oCIS does.
func errorBody(code, message string) []byte {
	b, _ := json.Marshal(odataError{Error: odataErrorMain{
		Code:    code,
		Message: message,
		Innererror: map[string]string{
			"date":       time.Now().UTC().Format(time.RFC3339),
			"request-id": newRequestID(),
		},
	}})
	return b
}

// faultBody renders an injected fault in the same shape, so clients parse one error format.
func faultBody(status int) (string, []byte) {
	code := codeGeneralException
	switch {
	case status == http.StatusTooManyRequests:
		code = codeActivityLimit
	case status == http.StatusServiceUnavailable:
		code = codeServiceNotAvail
	}
	return "application/json", errorBody(code, http.StatusText(status))
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = w.Write(errorBody(e.code, e.message))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, errf(http.StatusInternalServerError, codeGeneralException, "%v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeStrict mirrors oCIS's StrictJSONUnmarshal: unknown properties, trailing data and an
// empty body are all rejected.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
