package store

import (
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Typed errors callers branch on (errors.Is).
var (
	// ErrNotFound: no such document.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique key (slug) is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrDomainTaken: another tenant holds the mail domain (compared case-insensitively).
	ErrDomainTaken = errors.New("mail domain held by another tenant")
	// ErrConflict: the expected resourceVersion is stale.
	ErrConflict = errors.New("resource version conflict")
	// ErrFenced: a status write carried an older leader term than the stored one.
	ErrFenced = errors.New("fenced: a newer leader term wrote this status")
)

// FieldError names one invalid field and why.
type FieldError struct {
	// Field is the path of the field in the API body, e.g. "slug", "mail.domain".
	Field string `json:"field"`
	// Message says what is wrong with it.
	Message string `json:"message"`
}

// ValidationError is one or more invalid fields; nothing was written.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid: " + strings.Join(parts, "; ")
}

func (e *ValidationError) add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (e *ValidationError) orNil() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// isDuplicateKey recognises a unique-index violation. MongoDB says 11000; FerretDB raises code 1
// when the violation comes from an update or upsert, with a "duplicate key" message or, from
// its SQLite backend, "UNIQUE constraint failed" (docs/ARCHITECTURE.md, FerretDB limits).
func isDuplicateKey(err error) bool {
	if err == nil {
		return false
	}
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) && se.HasErrorCode(1) {
		msg := strings.ToLower(err.Error())
		return strings.Contains(msg, "duplicate") || strings.Contains(msg, "unique constraint")
	}
	return false
}
