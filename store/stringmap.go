package store

import (
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// StringMap is a string-to-string map (annotations, labels) that decodes tolerantly: operators
// write these fields by hand in the Mongo shell, and a value such as `new Date()` or a number
// must not make the whole tenant unreadable (which would stall its reconciles and its API).
// Dates become RFC3339Nano strings, other scalars their plain text.
type StringMap map[string]string

// UnmarshalBSONValue implements bson.ValueUnmarshaler.
func (m *StringMap) UnmarshalBSONValue(typ byte, data []byte) error {
	rv := bson.RawValue{Type: bson.Type(typ), Value: data}
	if rv.Type == bson.TypeNull || rv.Type == bson.TypeUndefined {
		*m = nil
		return nil
	}
	doc, ok := rv.DocumentOK()
	if !ok {
		return fmt.Errorf("want a document of strings, got BSON %s", rv.Type)
	}
	elems, err := doc.Elements()
	if err != nil {
		return err
	}
	out := make(StringMap, len(elems))
	for _, e := range elems {
		v := e.Value()
		switch v.Type {
		case bson.TypeString:
			out[e.Key()] = v.StringValue()
		case bson.TypeDateTime:
			out[e.Key()] = v.Time().UTC().Format(time.RFC3339Nano)
		case bson.TypeBoolean:
			out[e.Key()] = strconv.FormatBool(v.Boolean())
		case bson.TypeInt32:
			out[e.Key()] = strconv.FormatInt(int64(v.Int32()), 10)
		case bson.TypeInt64:
			out[e.Key()] = strconv.FormatInt(v.Int64(), 10)
		case bson.TypeDouble:
			out[e.Key()] = strconv.FormatFloat(v.Double(), 'f', -1, 64)
		case bson.TypeNull, bson.TypeUndefined:
			// an unset value is no value
		default:
			out[e.Key()] = v.String()
		}
	}
	*m = out
	return nil
}
