// Package stalwartsim is a protocol-faithful simulator of the part of Stalwart v0.16's JMAP
// management surface that platform-api uses: session discovery (GET /.well-known/jmap answers
// 307 with an empty body to /jmap/session, the RFC 8620 session object), the JMAP API endpoint
// (POST /jmap/) with RFC 8620 request-level errors as problem JSON and method-level errors inside
// HTTP 200, and the registry methods x:Domain/*, x:Account/* and x:DkimSignature/* (get, query,
// set, including result references). It follows Stalwart's published object schema (an extract of
// stalwart-v0.16-schema.json is embedded, and a test keeps it equal to the upstream file) and its
// server code rather than what our client sends: undeclared or server-set properties are rejected
// with an invalidPatch SetError, values must use Stalwart's encodings (a List is an object keyed
// "0","1",…, a Set is {member:true}), domain names and account addresses are unique
// (primaryKeyViolation carrying the existing objectId), an Account must point at an existing
// Domain (invalidForeignKey), and a Domain that still has accounts or DKIM signatures cannot be
// destroyed (objectIsLinked with linkedObjects). Tests and the dev stack seed and mutate objects
// out of band, inject HTTP faults through Faults() and method-level errors (serverFail) with
// InjectMethodError.
package stalwartsim
