// Package mongowire is a MongoDB server for tests: it listens on loopback and speaks enough of
// the wire protocol for the real Go driver to connect to it as to a one-member replica set
// (or a standalone mongod), keep a few small collections and open change streams.
//
// It exists because the change-stream path cannot be tested against the servers a developer
// machine has (the embedded FerretDB has no change streams) and a mock of the driver's Go API
// would test our idea of the driver rather than the driver. Here the driver does everything
// it does against MongoDB (handshake, monitoring, sessions, retryable reads and writes, the
// change stream's own resume logic) and the test scripts what the server answers:
//
//   - the oplog of a collection: Changes appends insert/update/replace/delete events, Drop
//     and Rename append the event and the invalidate that follow them, Advance moves the
//     cluster time (a write elsewhere), LoseHistory makes every earlier resume point fall
//     off the oplog;
//   - faults: Inject answers matching commands with a server error (code, codeName,
//     errorLabels) or drops the connection instead of answering;
//   - a log of every command received (Commands), so a test can assert what the driver sent,
//     e.g. that a reopened aggregate carried resumeAfter with the last token.
//
// Replies follow the shapes MongoDB documents: the hello fields the driver's server
// description reads, cursor replies with firstBatch/nextBatch, ns, id and
// postBatchResumeToken, change events with _id (the resume token), operationType,
// clusterTime, wallTime, ns and documentKey, errors with ok: 0, errmsg, code, codeName and
// errorLabels, and $clusterTime/operationTime on every reply of a replica-set member.
//
// Commands answered: hello/isMaster, ping, buildInfo, endSessions, createIndexes, find, insert,
// update, delete, aggregate (a $changeStream stage, optionally followed by an inclusion
// $project), getMore and killCursors. Queries support equality, $eq, $gt, $gte, $lt and $lte
// on top-level or dotted fields; updates support $set, $unset and $setOnInsert on top-level
// fields, replacements and upserts. Anything else is answered with an error and reported to
// the test, so a fake that cannot answer faithfully fails loudly instead of answering wrongly.
package mongowire
